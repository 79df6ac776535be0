import Foundation
import HistModel
import Testing
@testable import HistReports

/// The byte-level writers of CSV and JSON (ByteText) give the same text as the String formatters they
/// replace (Renderer.number, TimeText.iso, csvField(csvText(v)), jsonValue), value by value.
@Suite struct ByteTextTests {
    static func bytes(_ body: (inout ByteText) -> Void) -> String {
        var out = ByteText()
        body(&out)
        return out.string
    }

    @Test func numbersAreWrittenAsSwiftDescribesThem() {
        var rng = SeededGenerator(seed: 11)
        var values: [Double] = [0, -0.0, 1, -1, 0.001, -0.001, 0.5, 12.0, 1.005, 99.999, 1e-5, 123456.789, 999_999_999_999.999,
                                1e12, 1e15, 1e16, 2.5e-7, .pi, -.pi, 1.0 / 3, 0.1 + 0.2, Double(Int64.max), 9_007_199_254_740.993]
        for _ in 0..<20_000 {
            // Whole milliseconds (every duration a report shows), then anything.
            values.append(Double(Int64.random(in: -10_000_000_000...10_000_000_000_000, using: &rng)) / 1000.0)
            values.append(Double(Int64.random(in: 0...100_000, using: &rng)) / 1000.0)
            values.append(Double.random(in: -1e13...1e13, using: &rng))
            values.append(Double(bitPattern: UInt64.random(in: 0...UInt64.max, using: &rng)))
        }
        for d in values where d.isFinite {
            #expect(Self.bytes { $0.append(number: d) } == Renderer.number(d), "\(d)")
        }
    }

    @Test func timesAreISO8601LikeTimeText() {
        var rng = SeededGenerator(seed: 12)
        var times: [Int64] = [0, -1, 1, 86_399_999, -86_400_000, 253_402_300_799_999, -62_135_596_800_000, 1_796_204_853_914]
        for _ in 0..<20_000 { times.append(Int64.random(in: -80_000_000_000_000...300_000_000_000_000, using: &rng)) }
        for ms in times {
            let t = Timestamp(milliseconds: ms)
            #expect(Self.bytes { $0.append(iso: t) } == TimeText.iso(t), "\(ms)")
        }
    }

    @Test func integersAreDecimal() {
        var rng = SeededGenerator(seed: 13)
        var ns: [Int64] = [0, 1, -1, 9, 10, -10, Int64.max, Int64.min, Int64.min + 1]
        for _ in 0..<5_000 { ns.append(Int64.random(in: Int64.min...Int64.max, using: &rng)) }
        for n in ns { #expect(Self.bytes { $0.append(integer: n) } == String(n)) }
    }

    static let texts = ["", "plain", "a,b", "say \"hi\"", "\"", "line1\nline2", "cr\r", "crlf\r\n", "tab\there", "nul\u{0}byte",
                        "é ü 日本 🙂", "\u{2028}\u{2029}\u{FEFF}", "<script>alert(1)</script>", ",,,", "\"\"", "x\u{7F}y"]

    @Test func cellsAreTheSameAsTheStringFormatters() {
        var values: [ReportValue] = [.null, .integer(0), .integer(-42), .real(1.5), .real(.nan), .real(.infinity), .bool(true),
                                     .bool(false), .time(Timestamp(milliseconds: 1_796_204_853_914))]
        values += Self.texts.map { ReportValue.text($0) }
        for v in values {
            #expect(Self.bytes { $0.append(csv: v) } == Renderer.csvField(Renderer.csvText(v)), "\(v)")
            #expect(Self.bytes { $0.append(json: v) } == Renderer.jsonValue(v), "\(v)")
        }
    }

    /// The one difference, on purpose: a `,` or `"` followed by a combining mark is one Character, which
    /// the Character test did not see; a CSV reader splits on the byte, so the field is quoted.
    @Test func aCombiningMarkAfterACommaStillQuotes() {
        #expect(Self.bytes { $0.append(csvField: "a,\u{301}b") } == "\"a,\u{301}b\"")
        #expect(Self.bytes { $0.append(csvField: "a\"\u{301}b") } == "\"a\"\"\u{301}b\"")
    }

    /// Whole documents: the byte renderers against the String ones they replaced (rebuilt here).
    @Test func documentsMatchTheStringRenderers() {
        let columns = [ReportColumn("time", .time), ReportColumn("name"), ReportColumn("n"), ReportColumn("s", .seconds)]
        let rows: [[ReportValue]] = Self.texts.enumerated().map { k, t in
            [.time(Timestamp(milliseconds: 1_796_204_853_914 + Int64(k))), .text(t), k % 3 == 0 ? .null : .integer(Int64(k)), .real(Double(k) / 8)]
        }
        let r = ReportResult(columns: columns, rows: rows)
        var csv = columns.map { Renderer.csvField($0.name) }.joined(separator: ",") + "\r\n"
        for row in rows { csv += row.map { Renderer.csvField(Renderer.csvText($0)) }.joined(separator: ",") + "\r\n" }
        #expect(Renderer.csv(r) == csv)
        var json = "[\n"
        for (n, row) in rows.enumerated() {
            json += "  " + Renderer.jsonObject(columns: columns.map(\.name), row: row) + (n == rows.count - 1 ? "\n" : ",\n")
        }
        #expect(Renderer.json(r) == json + "]\n")
        #expect(Renderer.json(ReportResult(columns: columns, rows: [])) == "[]\n")
        #expect(Renderer.csv(ReportResult(columns: columns, rows: [])) == "time,name,n,s\r\n")
    }
}
