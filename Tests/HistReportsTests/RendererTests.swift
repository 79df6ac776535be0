import Foundation
import HistModel
import Testing
@testable import HistReports

@Suite struct RendererTests {
    let nasty = "it's \"quoted\",\nnew line\ttab \\ back 🚀 '; DROP TABLE events; --"
    var result: ReportResult {
        ReportResult(columns: [ReportColumn("name"), ReportColumn("n"), ReportColumn("at", .time), ReportColumn("ok", .bool), ReportColumn("x")],
                     rows: [[.text(nasty), .integer(42), .time(Timestamp(milliseconds: 1_795_255_200_123)), .bool(true), .null],
                            [.text("日本語"), .real(1.5), .null, .bool(false), .text("a")]])
    }

    @Test func jsonEscapesAndKeepsColumnOrder() throws {
        let text = Renderer.json(result)
        #expect(text.hasPrefix("[\n  {\"name\": "))
        #expect(text.contains(#""n": 42, "at": "2026-11-21T10:00:00.123Z", "ok": true, "x": null"#))
        #expect(text.contains(#""n": 1.5, "at": null, "ok": false"#))
        // Round trip through a real JSON parser.
        let parsed = try JSONSerialization.jsonObject(with: Data(text.utf8)) as! [[String: Any]]
        #expect(parsed[0]["name"] as? String == nasty)
        #expect(parsed[1]["name"] as? String == "日本語")
        #expect(Renderer.jsonString("\u{1}") == "\"\\u0001\"")
        #expect(Renderer.json(ReportResult(columns: result.columns, rows: [])) == "[]\n")
    }

    @Test func csvQuotesPerRFC4180() {
        let text = Renderer.csv(result)
        let expected = "name,n,at,ok,x\r\n"
            + "\"it's \"\"quoted\"\",\nnew line\ttab \\ back 🚀 '; DROP TABLE events; --\",42,2026-11-21T10:00:00.123Z,true,\r\n"
            + "日本語,1.5,,false,a\r\n"
        #expect(text == expected)
        #expect(Renderer.csvField("plain") == "plain")
        #expect(Renderer.csvField("a,b") == "\"a,b\"")
    }

    @Test func tableAlignsWideCharactersAndShowsNewlines() {
        let r = ReportResult(columns: [ReportColumn("name"), ReportColumn("n")],
                             rows: [[.text("日本"), .integer(1)], [.text("ab"), .integer(100)], [.text("a\nb"), .null], [.text("🚀x"), .integer(7)]])
        let text = Renderer.table(r, options: RenderOptions(zone: TimeZone(identifier: "UTC")!))
        #expect(text == """
            name    n
            日本    1
            ab    100
            a⏎b     -
            🚀x     7

            """)
        #expect(DisplayWidth.of("日本") == 4)
        #expect(DisplayWidth.of("🚀") == 2)
        #expect(DisplayWidth.of("é") == 1)
        #expect(Renderer.table(ReportResult(columns: r.columns, rows: []), options: RenderOptions(zone: .current)) == "(no rows)\n")
    }

    @Test func colourOnlyOnATerminalWithoutNoColor() {
        #expect(RenderOptions.colorWanted(environment: [:], isTTY: true))
        #expect(!RenderOptions.colorWanted(environment: ["NO_COLOR": "1"], isTTY: true))
        #expect(!RenderOptions.colorWanted(environment: [:], isTTY: false))
        let colored = Renderer.table(result, options: RenderOptions(zone: .current, color: true))
        #expect(colored.hasPrefix("\u{1B}[1m"))
    }

    @Test func sparklines() {
        #expect(Sparkline.render([0, 1, 2, 3, 4, 5, 6, 7]) == "▁▂▃▄▅▆▇█")
        #expect(Sparkline.render([nil, 5, nil]) == " ▁ ")
        #expect(Sparkline.render([]) == "")
    }
}
