import Foundation
import HistModel
import Testing
@testable import HistReports

/// Table shortening, human durations and the record view, on hand-made results.
@Suite struct TableFitTests {
    let utc = TimeZone(identifier: "UTC")!

    @Test(arguments: [
        (0, "0ms"), (250, "250ms"), (1000, "1s"), (4_500, "4.5s"), (58_877, "58.9s"), (59_960, "60s"),
        (60_000, "1m"), (72_000, "1m12s"), (899_123, "14m59s"), (3_600_000, "1h"), (7_500_000, "2h5m"),
        (86_400_000 * 3 + 4 * 3_600_000 + 5 * 60_000, "3d4h"), (-1500, "-1.5s"),
    ] as [(Int64, String)])
    func humanDurations(_ ms: Int64, _ text: String) {
        #expect(HumanDuration.format(milliseconds: ms) == text)
    }

    @Test func cutNeverSplitsAWideCharacter() {
        #expect(TableFit.cut("abcdef", to: 4) == "abc…")
        #expect(TableFit.cut("abc", to: 3) == "abc")
        #expect(TableFit.cut("日本語テキスト", to: 6) == "日本…")     // 2+2+1: the third character would not fit
        #expect(DisplayWidth.of(TableFit.cut("日本語テキスト", to: 5)) <= 5)
        #expect(TableFit.cut("🚀🚀🚀", to: 4) == "🚀…")
    }

    @Test func shortensTailsThenDropsRankedColumnsThenCuts() {
        let columns = [ReportColumn("name"), ReportColumn("n", drop: 1), ReportColumn("tail", shorten: .lastLine)]
        let r = ReportResult(columns: columns, rows: [
            [.text("short"), .integer(1), .text("line one\nthe last line of a rather long stderr tail\n\n")],
        ])
        let wide = Renderer.table(r, options: RenderOptions(zone: utc, width: 200))
        #expect(wide == "name   n  tail\nshort  1  …the last line of a rather long stderr tail\n")
        // 30 columns: shortening the tail is enough.
        #expect(Renderer.table(r, options: RenderOptions(zone: utc, width: 30)) == "name   n  tail\nshort  1  …the last line of a…\n")
        // 19 columns: even a 10-column tail does not fit, so the ranked column goes (and is named).
        let narrow = Renderer.table(r, options: RenderOptions(zone: utc, width: 19))
        #expect(narrow.hasPrefix("name   tail\nshort  …the last l…\n"), "\(narrow)")
        #expect(narrow.contains("(left out to fit 19"))
        #expect(narrow.split(separator: "\n").allSatisfy { DisplayWidth.of(String($0)) <= 19 })
        // Without a width nothing is shortened: newlines are shown as ⏎ in the one line.
        let whole = Renderer.table(r, options: RenderOptions(zone: utc))
        #expect(whole.contains("line one⏎the last line of a rather long stderr tail⏎⏎"))
    }

    @Test func durationsAreHumanInTablesAndNumbersElsewhere() {
        let r = ReportResult(columns: [ReportColumn("uptime_s", .seconds)], rows: [[.real(72.0)], [.null]])
        #expect(Renderer.table(r, options: RenderOptions(zone: utc)) == "uptime\n 1m12s\n     -\n")
        #expect(Renderer.json(r).contains(#"{"uptime_s": 72.0}"#))
        #expect(Renderer.csv(r) == "uptime_s\r\n72.0\r\n\r\n")
    }

    @Test func recordViewKeepsEveryLineAndNeutralisesEscapes() {
        let r = ReportResult(columns: [ReportColumn("program"), ReportColumn("uptime_s", .seconds), ReportColumn("stderr_tail", shorten: .lastLine)],
                             rows: [[.text("web\u{1B}[2J"), .real(5), .text("a\n\u{1B}[31mb\tc\n\n")]])
        let text = RecordView.render(r, title: { "Crash \($0 + 1)" }, options: RenderOptions(zone: utc))
        #expect(text == """
            Crash 1
              program:      web\\u{1b}[2J
              uptime:       5s
              stderr_tail:
                a
                \\u{1b}[31mb→c

            """)
        #expect(!text.unicodeScalars.contains { $0.value == 0x1B })
    }

    @Test func wrapBreaksNotesAtSpaces() {
        #expect(Renderer.wrap("one two three four", width: 9) == "one two\n  three\n  four\n")
        #expect(Renderer.wrap("one two", width: nil) == "one two\n")
    }
}
