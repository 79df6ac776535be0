import Foundation
import HistModel
import HistReports

/// `postmortem`: where the 1 h postmortem of the full fixture spends its time and its bytes. Each
/// repetition opens a new ReportDatabase (as a histctl run does), builds the report with every query
/// timed on its own (`PostmortemPhases`), then renders Markdown and HTML, timed apart. The HTML page
/// is kept in SCRATCH/postmortem-1h.html, and its bytes are split by section and by timeline element.
enum PostmortemScenario {
    static func run(_ ws: Workspace, reps: Int) throws -> ScenarioResult {
        let fixture = try Fixture.full(ws)
        let hour: Int64 = 3_600_000
        // The same hour as `histbench query`: one day before the fixture's end, inside the snapshot range.
        let until = Timestamp(milliseconds: fixture.end.milliseconds - 86_400_000)
        let scope = ReportScope(since: Timestamp(milliseconds: until.milliseconds - hour), until: until, now: fixture.end)
        let utc = TimeZone(identifier: "UTC")!
        var r = ScenarioResult("postmortem")
        r.info["load average at start"] = loadAverage()
        var steps: [String: [Double]] = [:]
        var order: [String] = []
        var build: [Double] = [], markdown: [Double] = [], html: [Double] = [], mdTotal: [Double] = [], htmlTotal: [Double] = []
        // The same spans in the process's CPU time (both of the postmortem's threads; SQLite runs on them):
        // much less load-dependent than wall time on a shared box.
        var mdCPU: [Double] = [], htmlCPU: [Double] = [], oneWall: [Double] = [], oneCPU: [Double] = []
        var page = ""
        var mdChars = 0
        progress("postmortem: warm-up")
        _ = try Postmortem.build(try ReportDatabase(path: fixture.path), scope).html(zone: utc)
        for n in 0..<reps {
            progress("postmortem: repetition \(n + 1) of \(reps)")
            let phases = PostmortemPhases()
            let c0 = processCPUNow()
            let t0 = monoNow()
            let pm = try Postmortem.build(try ReportDatabase(path: fixture.path), scope, phases: phases)
            let t1 = monoNow()
            let c1 = processCPUNow()
            let md = pm.markdown(zone: utc)
            let t2 = monoNow()
            let c2 = processCPUNow()
            page = pm.html(zone: utc)
            let t3 = monoNow()
            let c3 = processCPUNow()
            mdCPU.append(Double(c2 - c0) / 1e6)
            htmlCPU.append(Double(c1 - c0 + c3 - c2) / 1e6)
            // The same Markdown report from one connection on one thread (Postmortem.build's secondConnection).
            let s0 = processCPUNow()
            let w0 = monoNow()
            _ = try Postmortem.build(try ReportDatabase(path: fixture.path), scope, secondConnection: false).markdown(zone: utc)
            oneWall.append(Double(monoNow() - w0) / 1e6)
            oneCPU.append(Double(processCPUNow() - s0) / 1e6)
            mdChars = md.utf8.count
            build.append(Double(t1 - t0) / 1e6)
            markdown.append(Double(t2 - t1) / 1e6)
            html.append(Double(t3 - t2) / 1e6)
            mdTotal.append(Double(t2 - t0) / 1e6)
            htmlTotal.append(Double(t1 - t0 + t3 - t2) / 1e6)
            for s in phases.steps {
                if steps[s.name] == nil { order.append(s.name) }
                steps[s.name, default: []].append(Double(s.duration.components.attoseconds) / 1e15 + Double(s.duration.components.seconds) * 1000)
            }
        }
        r.add("Markdown postmortem, build + render", unit: "ms", samples: mdTotal, limit: 100, target: "<= 100 ms median")
        r.add("HTML postmortem, build + render", unit: "ms", samples: htmlTotal, limit: 500, target: "<= 500 ms median")
        r.add("Markdown postmortem, build + render, process CPU", unit: "ms", samples: mdCPU)
        r.add("HTML postmortem, build + render, process CPU", unit: "ms", samples: htmlCPU)
        r.add("Markdown postmortem, one connection and thread", unit: "ms", samples: oneWall)
        r.add("Markdown postmortem, one connection and thread, process CPU", unit: "ms", samples: oneCPU)
        r.add("build (all queries, new connection)", unit: "ms", samples: build)
        for name in order { r.add("  query " + name, unit: "ms", samples: steps[name] ?? []) }
        r.add("render Markdown", unit: "ms", samples: markdown)
        r.add("render HTML", unit: "ms", samples: html)
        r.add("HTML bytes", unit: "B", value: Double(page.utf8.count), limit: 2_000_000, target: "<= 2,000,000 B")
        r.add("Markdown bytes", unit: "B", value: Double(mdChars))
        for (name, bytes) in sections(page) { r.info["bytes, section " + name] = "\(bytes)" }
        for (name, n) in [("<use ", "uses"), ("<title>", "titles"), ("<path ", "paths")] {
            r.info["count, " + n] = "\(page.components(separatedBy: name).count - 1)"
        }
        let out = ws.scratch + "/postmortem-1h.html"
        try? page.write(toFile: out, atomically: true, encoding: .utf8)
        r.info["page"] = out
        r.info["load average at end"] = loadAverage()
        r.info["method"] = "1 h window one day before the fixture's end; new ReportDatabase per repetition, 1 untimed warm-up; monotonic clock"
        return r
    }

    /// Bytes from each `<h2 id="...">` to the next (the part before the first is "head").
    static func sections(_ page: String) -> [(String, Int)] {
        var cuts: [(String, String.Index)] = [("head", page.startIndex)]
        var from = page.startIndex
        while let r = page.range(of: "<h2 id=\"", range: from..<page.endIndex) {
            cuts.append((String(page[r.upperBound...].prefix { $0 != "\"" }), r.lowerBound))
            from = r.upperBound
        }
        return cuts.indices.map { i in
            (cuts[i].0, page.utf8.distance(from: cuts[i].1, to: i + 1 < cuts.count ? cuts[i + 1].1 : page.endIndex))
        }
    }
}

/// CPU time of this process, all threads (CLOCK_PROCESS_CPUTIME_ID), ns.
func processCPUNow() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)
    return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
}
