import Foundation
import GRDB
import HistModel
import HistStore
import Testing
@testable import HistReports

/// The HTML postmortem on hostile text written by the real writer: program names and stderr tails
/// with `<script>`, `</svg>`, `&`, quotes and (patched in with SQL, as a foreign writer could leave
/// them) invalid UTF-8 bytes. Nothing may come out as markup, and the page's structure must hold.
@Suite struct HTMLReportTests {
    static let t0 = SampleHistory.t0
    static func at(_ offsetMs: Int64) -> Timestamp { Timestamp(milliseconds: t0 + offsetMs) }

    static let evilName = "<script>alert(1)</script>"
    static let svgName = "x</svg><b onmouseover=\"alert(2)\">'&amp;"
    static let evilTail = "<script>document.title='PWNED'</script>\n</svg></pre></td></table><img src=x onerror=alert(3)>\n& \"q\" 'a' |pipe| *em* [l](http://e)\n"

    static func instance(_ id: InstanceID, _ program: String, pid: Int32, started: Int64) -> InstanceInfo {
        InstanceInfo(id: id, program: program, identity: ProcessIdentity(pid: pid, startTicks: UInt64(1000 + id)), startedAt: at(started))
    }

    static func ended(_ info: InstanceInfo, at endMs: Int64, _ status: HistModel.ExitStatus, _ cls: ExitClassification, stderr: String) -> HistEvent {
        HistEvent(time: at(endMs), program: info.program, payload: .ended(InstanceEnd(
            instance: info, endedAt: at(endMs), status: status, classification: cls,
            uptime: .milliseconds(endMs - (info.startedAt.milliseconds - t0)), stderrTail: stderr)))
    }

    /// A database with: evilName crashing 3 times with the same tail (exit 3) and once by SIGSEGV;
    /// svgName breached and limit-killed once; one recording gap.
    static func makeHistory(_ path: String) throws {
        let store = try HistoryStore.open(path: path)
        _ = try store.beginRun(host: "host<&>\"", pid: 4242, version: "0.1.0", configPath: nil, configHash: nil, bootID: nil,
                               programs: [], pools: [], at: at(0))
        let writer = store.startWriter()
        var events: [HistEvent] = []
        for n in 0..<4 {
            let i = instance(InstanceID(n + 1), evilName, pid: Int32(100 + n), started: Int64(n) * 10_000 + 1000)
            events.append(HistEvent(time: i.startedAt, program: evilName, payload: .started(i)))
            events.append(n < 3 ? ended(i, at: Int64(n) * 10_000 + 5000, .exited(code: 3), .crash, stderr: evilTail)
                                : ended(i, at: Int64(n) * 10_000 + 5000, .signaled(signal: 11, coreDumped: false), .crash, stderr: "segv\n"))
        }
        let s = instance(10, svgName, pid: 200, started: 2000)
        events.append(HistEvent(time: s.startedAt, program: svgName, payload: .started(s)))
        events.append(HistEvent(time: at(30_000), program: svgName, payload: .limitBreach(
            instance: s, limit: .maxMemory, observed: 140 << 20, threshold: 125 << 20, action: .stop)))
        events.append(ended(s, at: 31_000, .signaled(signal: 15, coreDumped: false), .limit, stderr: ""))
        for e in events { writer.record(e) }
        #expect(writer.flush(timeout: .seconds(10)))
        try store.withWriteConnection { db in
            // Bytes that are not UTF-8 (0xFF, a lone continuation byte, a truncated sequence) in a tail and a
            // gap reason, as another writer of the file could leave them.
            try db.execute(sql: "UPDATE instances SET stderr_tail = CAST(X'3C73637269707420FF3E80E282' AS TEXT) || stderr_tail WHERE pid = 103")
            try db.execute(sql: """
                INSERT INTO events (ts, kind, run_id, value, detail) VALUES (?, 15, 1, 17,
                  json_object('from_ms', ?, 'to_ms', ?, 'reason', 'queue_full<script>', 'dropped_by_kind', json_object('crash', 17)))
                """, arguments: [at(40_000).milliseconds, at(40_000).milliseconds, at(45_000).milliseconds])
        }
        store.close()
    }

    /// Start and end tags of `html` must nest (void and self-closed elements aside).
    static func unbalancedTags(_ html: String) -> [String] {
        let void: Set<String> = ["meta", "br", "img", "hr", "input", "link"]
        let re = try! NSRegularExpression(pattern: #"<(/?)([a-zA-Z][a-zA-Z0-9]*)\b[^>]*?(/?)>"#)
        var stack: [String] = []
        var problems: [String] = []
        for m in re.matches(in: html, range: NSRange(html.startIndex..., in: html)) {
            let closing = !(Range(m.range(at: 1), in: html).map { html[$0].isEmpty } ?? true)
            let name = String(html[Range(m.range(at: 2), in: html)!]).lowercased()
            let selfClosed = !(Range(m.range(at: 3), in: html).map { html[$0].isEmpty } ?? true)
            if void.contains(name) || selfClosed { continue }
            if closing {
                if stack.last == name { stack.removeLast() } else { problems.append("</\(name)> closes <\(stack.last ?? "nothing")>") }
            } else {
                stack.append(name)
            }
        }
        return problems + stack.filter { $0 != "html" && $0 != "body" && $0 != "head" }.map { "<\($0)> never closed" }
    }

    @Test func hostileTextIsEscapedAndTheStructureHolds() throws {
        let dir = SampleHistory.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/evil.db"
        try Self.makeHistory(path)
        let db = try ReportDatabase(path: path)
        let pm = try Postmortem.build(db, ReportScope(since: Self.at(0), until: Self.at(60_000), now: Self.at(60_000)))
        let html = pm.html(zone: TimeZone(identifier: "UTC")!, generated: Self.at(60_000))

        #expect(html.range(of: "<script", options: .caseInsensitive) == nil)
        #expect(html.range(of: "<img", options: .caseInsensitive) == nil)
        #expect(!html.contains("<b onmouseover"))
        #expect(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"))
        #expect(html.contains("x&lt;/svg&gt;&lt;b onmouseover=&quot;alert(2)&quot;&gt;&#39;&amp;amp;"))
        #expect(html.contains("&lt;script&gt;document.title=&#39;PWNED&#39;&lt;/script&gt;"))
        #expect(html.contains("host&lt;&amp;&gt;&quot;"))
        // The invalid bytes arrive as U+FFFD (SQLite text read as Swift strings), never as raw bytes.
        #expect(html.contains("&lt;script \u{FFFD}&gt;\u{FFFD}\u{FFFD}segv"))
        #expect(Self.unbalancedTags(html) == [])
        #expect(html.components(separatedBy: "<svg").count == html.components(separatedBy: "</svg>").count)
        // No external asset: no tag with a src attribute or a link to elsewhere (only "#id" references), no url() but #hatch.
        #expect(html.range(of: #"<[a-zA-Z][^>]*\s(src|href)=(\"[^#\"]|'[^#']|[^\"'#\s])"#, options: .regularExpression) == nil)
        #expect(html.range(of: #"url\([^#]"#, options: .regularExpression) == nil)

        // Three identical crashes collapse into one row with the tail once; the SIGSEGV one is its own.
        #expect(pm.crashGroups.map(\.count) == [3, 1, 1])
        #expect(html.components(separatedBy: "class=\"crash-group\"").count - 1 == 3)
        #expect(html.contains("×3 identical, first 2026-11-21 10:00:05 +00:00 (pid 100), last 2026-11-21 10:00:25 +00:00 (pid 102)"))
        // Marks: 3 exit-code crashes (triangles), 1 signal crash (cross), 1 limit kill (square) on the timeline;
        // the breach as a diamond on the timeline and on the memory chart.
        func count(_ s: String) -> Int { html.components(separatedBy: s).count - 1 }
        #expect(count("class=\"mark k-crash-exit\" x=") == 3)
        #expect(count("class=\"mark k-crash-signal\" x=") == 1)
        #expect(count("class=\"mark k-limit-kill\" x=") == 1)
        #expect(count("class=\"mark k-breach breach\"") == 1)
        // The gap is listed first and shaded on every chart: the timeline and two charts per program.
        let charts = count("<svg class=\"chart ")
        #expect(charts == 2)
        #expect(count("<rect class=\"gap\" x=") == 1 + charts)
        #expect(count("<li class=\"gap-item\">") == 1)
        let gapAt = try #require(html.range(of: "The record is incomplete between"))
        let timelineAt = try #require(html.range(of: "id=\"timeline\""))
        #expect(gapAt.lowerBound < timelineAt.lowerBound)
    }

    @Test func markdownEscapesHostileText() throws {
        let dir = SampleHistory.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/evil.db"
        try Self.makeHistory(path)
        let db = try ReportDatabase(path: path)
        let pm = try Postmortem.build(db, ReportScope(since: Self.at(0), until: Self.at(60_000), now: Self.at(60_000)))
        let md = pm.markdown(zone: TimeZone(identifier: "UTC")!)
        // Outside code blocks no raw "<" from the database survives; inside, it is code.
        for line in md.split(separator: "\n") where !line.hasPrefix("    ") {
            #expect(line.range(of: #"(?<!\\)<(script|/svg|img)"#, options: .regularExpression) == nil, "raw HTML in: \(line)")
        }
        #expect(md.contains("\\<script\\>alert\\(1\\)\\</script\\>"))
        #expect(md.contains("    <script>document.title='PWNED'</script>"))
        // Identical tails once: 3 crashes, one block.
        #expect(md.components(separatedBy: "    <script>document.title='PWNED'</script>").count - 1 == 1)
        #expect(md.contains("×3 identical, first 2026-11-21 10:00:05 +00:00 (pid 100), last 2026-11-21 10:00:25 +00:00 (pid 102)"))
        // The timeline has a unit column: the breach's value is bytes.
        #expect(md.contains("| time | kind | program | pid | value | unit | detail |"))
        #expect(md.contains("| 146800640 | bytes |"))
    }

    @Test func peaksSurviveDownsampling() {
        // 3,600 samples folded into 40 buckets: the single 133 MiB sample must be the bucket's value.
        var points: [UsageSeries.Point] = []
        for b in 0..<1000 {
            let rss: Double = b == 517 ? 133 * 1024 : 60 * 1024
            points.append(.init(bucket: b, time: Self.at(Int64(b) * 3600), rssKB: rss, cpuPercent: Double(b % 7)))
        }
        let s = UsageSeries(program: "leaky", points: points)
        let peak: Double = 136_192
        #expect(s.peakRSSKB == peak)
        let f = s.folded(into: 40, from: 1000)
        #expect(f.rssKB.compactMap { $0 }.max() == peak)
        #expect(f.rssKB[20] == peak)
        #expect(f.cpuPercent.allSatisfy { $0 == 6 })
        // The SVG path keeps the peak's y: the highest point of the chart.
        let chart = UsageChart(metric: .memory, program: "leaky", series: s, limits: [], breaches: [])
        let axis = TimeAxis(since: Self.at(0), until: Self.at(3_600_000), x0: 0, x1: 1000)
        let svg = chart.render(axis: axis, incomplete: [], zone: TimeZone(identifier: "UTC")!)
        #expect(svg.contains("RSS peak 133.0 MiB"))
    }

    /// A leaker sampled every 10 s for 30 minutes: it grows by 5 MiB a sample up to 133 MiB and is then
    /// stopped (limit 125 MiB, as the sampler sees it only between samples). Issue 14 saw "max RSS
    /// 73.6 MiB" here: buckets averaged their samples. Peaks must stay peaks, and the sparkline must
    /// span the 30 minutes asked for, not one bar of a day.
    @Test func maxRSSIsThePeakAndChartsSpanTheWindowAskedFor() throws {
        let dir = SampleHistory.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/leak.db"
        let store = try HistoryStore.open(path: path)
        _ = try store.beginRun(host: "h", pid: 1, version: "0.1.0", configPath: nil, configHash: nil, bootID: nil,
                               programs: [ProgramSpec(name: "leaky", command: ["/bin/true"], maxMemoryMB: 125)], pools: [], at: Self.at(0))
        try store.withWriteConnection { db in
            let program = try Int64.fetchOne(db, sql: "SELECT id FROM programs WHERE name = 'leaky'")!
            var instance: Int64 = 0
            var rss = 0
            for n in 0..<180 {
                let ts = Self.at(Int64(n) * 10_000 + 5000).milliseconds
                if instance == 0 || rss >= 133 * 1024 {
                    if instance > 0 {
                        try db.execute(sql: "UPDATE instances SET ended_at = ?, signal = 15, class = 'limit', uptime_ms = 1 WHERE id = ?", arguments: [ts - 1, instance])
                    }
                    try db.execute(sql: "INSERT INTO instances (run_id, program_id, pid, start_ticks, started_at) VALUES (1, ?, ?, ?, ?)",
                                   arguments: [program, 1000 + n, n, ts - 1])
                    instance = db.lastInsertedRowID
                    rss = 8 * 1024
                } else {
                    rss += 5 * 1024
                }
                try db.execute(sql: "INSERT INTO sweeps (id, ts) VALUES (?, ?)", arguments: [n + 1, ts])
                try db.execute(sql: "INSERT INTO snapshots VALUES (?, ?, 'R', ?, 0, ?, ?, 1, 3, 1)", arguments: [n + 1, instance, n * 50, rss, rss * 2])
            }
        }
        store.close()
        let db = try ReportDatabase(path: path)
        let pm = try Postmortem.build(db, ReportScope(since: Self.at(0), until: Self.at(1_800_000), now: Self.at(1_800_000)))
        let md = pm.markdown(zone: TimeZone(identifier: "UTC")!)
        let row = try #require(md.split(separator: "\n").first { $0.hasPrefix("| leaky |") && $0.contains(" MiB |") })
        #expect(row.hasPrefix("| leaky | 133.0 MiB | `"), "\(row)")
        let bars = try #require(row.split(separator: "`").dropFirst().first)
        #expect(bars.count == Postmortem.buckets)
        #expect(!bars.contains(" "), "every bucket of the 30 minutes has samples: \(bars)")
        #expect(bars.contains("█") && Set(bars).count >= 3, "the climb shows: \(bars)")
        // 50 ticks per 10 s = 5% CPU.
        #expect(row.hasSuffix("| 5.0 | `\(String(repeating: "▁", count: Postmortem.buckets))` |"), "\(row)")
        let html = pm.html(zone: TimeZone(identifier: "UTC")!)
        #expect(html.contains("RSS peak 133.0 MiB"))
        #expect(html.contains("limit 125.0 MiB"))
        #expect(html.contains("<title>limit: max_memory_mb 125.0 MiB</title>"))
        // One point per sweep (180 < 1,000 buckets): every peak is drawn.
        #expect(pm.series.first?.points.count == 180)
    }

    @Test func escaping() {
        #expect(HTMLText.escape("a<b>&\"'c") == "a&lt;b&gt;&amp;&quot;&#39;c")
        #expect(HTMLText.escape("plain text") == "plain text")
        #expect(HTMLText.escape("bell\u{7}nul\u{0}c1\u{85}") == "bell\u{FFFD}nul\u{FFFD}c1\u{FFFD}")
        #expect(HTMLText.escape("é ✓ 🚀\n\t") == "é ✓ 🚀\n\t")
        #expect(MarkdownText.inline("a|b <x> *y* _z_ [q](r) `c` &amp; #h !i ~s http://e") ==
                "a\\|b \\<x\\> \\*y\\* \\_z\\_ \\[q\\]\\(r\\) \\`c\\` \\&amp; \\#h \\!i \\~s http\\://e")
        #expect(MarkdownText.inline("at 10:00:05 see https://x") == "at 10:00:05 see https\\://x")
        #expect(MarkdownText.inline("line1\nline2") == "line1⏎line2")
        #expect(MarkdownText.inline("queue_full jobs_0 _lead trail_ a__b") == "queue_full jobs_0 \\_lead trail\\_ a\\_\\_b")
        #expect(MarkdownText.codeBlock("a\n```\n<b>\n") == "    a\n    ```\n    <b>\n")
    }
}
