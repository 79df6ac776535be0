import Foundation
import HistModel
import HistReports

/// `query`: each histctl report on the full fixture, through HistReports' API (the same calls histctl
/// makes), each repetition on a **new** ReportDatabase (a fresh read-only connection, as a histctl
/// invocation has). Time covers opening, the query and building the result rows (not rendering,
/// except postmortem, whose Markdown rendering is included). When a built histctl is present, the
/// whole command's wall time (process start to exit) is measured as well, for information.
enum QueryScenario {
    static func run(_ ws: Workspace, reps: Int, only: [String] = []) throws -> ScenarioResult {
        let fixture = try Fixture.full(ws)
        let end = fixture.end
        let day: Int64 = 86_400_000
        let hour: Int64 = 3_600_000
        func scope(_ back: Int64, until: Timestamp? = nil) -> ReportScope {
            let u = until ?? end
            return ReportScope(since: Timestamp(milliseconds: u.milliseconds - back), until: u, now: end)
        }
        // A past hour inside the snapshot range (the fixture keeps snapshots for the last 7 days).
        let pmUntil = Timestamp(milliseconds: end.milliseconds - day)
        let topAt = Timestamp(milliseconds: end.milliseconds - day - 37_000)

        typealias Case = (name: String, limit: Double?, cli: [String], body: (ReportDatabase) throws -> Int)
        // Targets (issue 14): every report's default view <= 50 ms; loops 30d 50, 1 h postmortem 100, status 20,
        // the full crashes CSV 150 ms, the HTML postmortem 500 (issue 16).
        let cases: [Case] = [
            // The full listing; the binary runs with --format csv, the "all 67 k rows <= 150 ms" case.
            // The API part is what histctl runs for it: the rows written as CSV bytes (Reports.crashListing).
            ("crashes --since 1d", 150, ["crashes", "--since", "1d", "--format", "csv"], { try Reports.crashListing($0, scope(day), format: .csv)?.rows ?? -1 }),
            // The table's default view: the newest 50 picked by the query, plus the count for its footer.
            ("crashes --since 1d (table, newest 50)", 50, ["crashes", "--since", "1d", "--format", "table"],
             { db in
                 let r = try Reports.crashes(db, scope(day), newest: 50)
                 _ = try Reports.crashCount(db, scope(day))
                 return r.rows.count
             }),
            ("crashes --summary --since 1d", 50, ["crashes", "--summary", "--since", "1d"],
             { try Reports.crashes($0, scope(day), summary: true).rows.count }),
            ("loops --since 30d", 50, ["loops", "--since", "30d"],
             { try Reports.loops($0, scope(30 * day), window: .seconds(600), minCrashes: 3).rows.count }),
            ("postmortem (1 h window)", 100, ["postmortem", "--since", iso(pmUntil.milliseconds - hour), "--until", iso(pmUntil.milliseconds)],
             { db in
                 let pm = try Postmortem.build(db, scope(hour, until: pmUntil))
                 return pm.markdown(zone: TimeZone(identifier: "UTC")!).count
             }),
            // The HTML page (issue 16): <= 500 ms and <= 2 MB for a 1 h window; its size goes into the info.
            ("postmortem --format html (1 h window)", 500,
             ["postmortem", "--since", iso(pmUntil.milliseconds - hour), "--until", iso(pmUntil.milliseconds), "--format", "html"],
             { db in
                 let pm = try Postmortem.build(db, scope(hour, until: pmUntil))
                 return pm.html(zone: TimeZone(identifier: "UTC")!).utf8.count
             }),
            ("top --at (1 day ago)", 50, ["top", "--at", iso(topAt.milliseconds)],
             { let t = try Reports.top($0, at: topAt, sort: .cpu, limit: 20, programs: []); return t.processes.rows.count }),
            ("status", 20, ["status"], { try Reports.status($0, scope(day)).rows.count }),
            ("zombies --since 1d", 50, ["zombies", "--since", "1d"], { try Reports.zombies($0, scope(day)).rows.count }),
            ("orphans --since 1d", 50, ["orphans", "--since", "1d"], { try Reports.orphans($0, scope(day), olderThan: .seconds(3600)).rows.count }),
            ("breaches --since 1d", 50, ["breaches", "--since", "1d"], { try Reports.breaches($0, scope(day)).rows.count }),
        ]

        var r = ScenarioResult("query")
        // The box may be shared: the load beside the numbers says how much to trust them.
        r.info["load average at start"] = loadAverage()
        // The histctl built beside this histbench (a build with its own --scratch-path), else REPO's release one.
        let beside = ((try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")).map { ($0 as NSString).deletingLastPathComponent + "/histctl" })
        let histctl = beside.flatMap { FileManager.default.isExecutableFile(atPath: $0) ? $0 : nil } ?? ws.repo + "/.build/release/histctl"
        let haveCLI = FileManager.default.isExecutableFile(atPath: histctl)
        r.info["histctl"] = haveCLI ? histctl : "not built: no histctl binary runs"
        for c in cases where only.isEmpty || only.contains(where: { c.name.hasPrefix($0) }) {
            var times: [Double] = []
            var rows = 0
            progress("query: \(c.name)")
            // One warm-up so every case starts with the same page cache. A report slower than 2 s
            // gets 2 timed repetitions and no CLI runs, so the scenario stays bounded.
            let w0 = monoNow()
            _ = try c.body(try ReportDatabase(path: fixture.path))
            let warm = Double(monoNow() - w0) / 1e9
            let slow = warm > 2
            if slow { r.info["slow, " + c.name] = "warm-up took \(fmt(warm)) s: 2 repetitions, no CLI runs" }
            for _ in 0..<(slow ? min(reps, 2) : reps) {
                let t0 = monoNow()
                let db = try ReportDatabase(path: fixture.path)
                rows = try c.body(db)
                times.append(Double(monoNow() - t0) / 1e6)
            }
            r.add(c.name + " (API)", unit: "ms", samples: times, limit: c.limit, target: c.limit.map { "<= \(Int($0)) ms median" })
            r.info[(c.name.contains("html") ? "bytes, " : "rows, ") + c.name] = "\(rows)"
            if haveCLI && !slow {
                var wall: [Double] = []
                // histctl's relative times count back from its own now, so the CLI runs get --until
                // (the fixture's end) where the report takes a range.
                // --now too: status ignores the range and counts its hour back from now, and --since 1d
                // counted from the real now (the range shrank as the fixture aged).
                let untilArgs = c.cli.contains("--until") || c.cli.contains("--at") ? [] : ["--until", iso(end.milliseconds), "--now", iso(end.milliseconds)]
                // A case without --format runs histctl's default view, the table (80 columns), as a user sees it.
                let argv = [histctl] + c.cli + untilArgs + ["--db", fixture.path] + (c.cli.contains("--format") ? [] : ["--format", "table"])
                for _ in 0..<min(reps, 5) {
                    let t0 = monoNow()
                    let pid = try Processes.shared.spawn(argv, output: "/dev/null", newSession: false)
                    let deadline = monoNow() + 60_000_000_000
                    while !Processes.shared.hasExited(pid) && monoNow() < deadline { sleepSeconds(0.0005) }
                    wall.append(Double(monoNow() - t0) / 1e6)
                }
                // The targets are histctl wall times: the binary line carries them too.
                r.add(c.name + " (histctl binary, wall)", unit: "ms", samples: wall, limit: c.limit,
                      target: c.limit.map { "<= \(Int($0)) ms median" })
            }
        }
        r.info["load average at end"] = loadAverage()
        r.info["fixture"] = "\(fixture.path), end \(iso(end.milliseconds))" + (fixture.generatedIn.map { ", generated in \(fmt($0)) s" } ?? ", reused")
        r.info["method"] = "HistReports API, new ReportDatabase per repetition, 1 untimed warm-up; histctl binary wall time incl. process start"
        return r
    }
}

/// ISO-8601 UTC with milliseconds.
func iso(_ ms: Int64) -> String {
    let f = ISO8601DateFormatter()
    f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    return f.string(from: Date(timeIntervalSince1970: Double(ms) / 1000))
}

/// /proc/loadavg's 1, 5 and 15 minute load averages ("7.34 2.26 0.84").
func loadAverage() -> String {
    guard let text = try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8) else { return "unknown" }
    return text.split(separator: " ").prefix(3).joined(separator: " ")
}
