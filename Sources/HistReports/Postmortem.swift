import Foundation
import GRDB
import Synchronization
import HistModel

/// An incident report for one window: everything the history knows, merged, with every known hole
/// in the record called out first.
public struct Postmortem: Sendable {
    /// A span the record does not cover.
    public struct Incomplete: Hashable, Sendable {
        public var from: Timestamp
        public var until: Timestamp
        /// Why: "N records dropped (recording_gap: queue_full)" or "histd run N ended uncleanly; ...".
        public var reason: String
        /// `reason` for Markdown: the recorded (untrusted) part escaped, histctl's own words as they are.
        var reasonMarkdown: String
    }

    /// One program's RSS and CPU over the window, one value per bucket (nil = no sample).
    public struct Usage: Hashable, Sendable {
        public var program: String
        public var rssKB: [Double?]
        public var cpuPercent: [Double?]
    }

    public var scope: ReportScope
    public var incomplete: [Incomplete]
    public var runs: ReportResult
    public var timeline: ReportResult
    public var crashes: ReportResult
    public var clusters: ReportResult
    public var breaches: ReportResult
    public var zombies: ReportResult
    public var orphans: ReportResult
    /// Crashes with identical stderr tails collapsed, per program.
    public var crashGroups: [CrashGroup]
    /// The Markdown sparklines: `buckets` per program, each the bucket's peak.
    public var usage: [Usage]
    /// The HTML charts: up to `seriesBuckets` points per program, each a bucket's peak.
    public var series: [UsageSeries]
    /// Limits in force per program and run (memory and CPU lines on the charts).
    public var limits: [ProgramLimit]

    /// Number of buckets in each Markdown sparkline.
    public static let buckets = 40
    /// Number of buckets (at most one point each) in each HTML chart series; a multiple of `buckets`.
    public static let seriesBuckets = 1000

    /// Gathers the report. Crash clusters are crash loops of at least 2 crashes within `clusterWindow`.
    /// `phases`, when given, gets the wall time of each query and step (histbench's postmortem profile).
    /// `secondConnection`: usage, limits and clusters run on a second connection and thread
    /// (PostmortemSide) while the rest runs here, when the machine has more than one CPU; false runs
    /// everything here (histbench compares both).
    public static func build(_ db: ReportDatabase, _ scope: ReportScope, clusterWindow: Duration = .seconds(600),
                             phases: PostmortemPhases? = nil, secondConnection: Bool = true) throws(ReportError) -> Postmortem {
        let args = scope.arguments
        let answer: PostmortemSide.Answer, m: Main
        if secondConnection && ProcessInfo.processInfo.activeProcessorCount > 1 {
            let side = PostmortemSide.start(path: db.path, scope: scope, clusterWindow: clusterWindow, phases: phases)
            let main: Result<Main, ReportError> = Result { () throws(ReportError) in try buildMain(db, scope, args: args, phases: phases) }
            // Always waited for, also when this half failed: nothing of the report outlives build.
            answer = try side.wait()
            m = try main.get()
        } else {
            m = try buildMain(db, scope, args: args, phases: phases)
            answer = try PostmortemSide.run(db, scope: scope, clusterWindow: clusterWindow, phases: phases)
        }
        return assemble(scope: scope, incomplete: m.incomplete, runs: m.runs, timeline: m.timeline, crashes: m.crashes,
                        clusters: answer.clusters, breaches: m.breaches, zombies: m.zombies, orphans: m.orphans,
                        series: answer.series, limits: ProgramLimit.from(answer.limits))
    }

    /// A report from its parts, for a source other than a local file (the fleet postmortem, from the central
    /// PostgreSQL): the crash groups and the sparklines are derived here, as `build` derives them.
    public static func assemble(scope: ReportScope, incomplete: [Incomplete], runs: ReportResult, timeline: ReportResult,
                                crashes: ReportResult, clusters: ReportResult, breaches: ReportResult, zombies: ReportResult,
                                orphans: ReportResult, series: [UsageSeries], limits: [ProgramLimit]) -> Postmortem {
        let usage = series.map { s in
            let f = s.folded(into: buckets, from: seriesBuckets)
            return Usage(program: s.program, rssKB: f.rssKB, cpuPercent: f.cpuPercent)
        }
        return Postmortem(
            scope: scope, incomplete: incomplete, runs: runs, timeline: timeline, crashes: crashes, clusters: clusters,
            breaches: breaches, zombies: zombies, orphans: orphans, crashGroups: CrashGroup.groups(crashes),
            usage: usage, series: series, limits: limits)
    }

    /// Where the record has holes, from the gaps rows (queries/gaps.sql: time, from, until, dropped, reason,
    /// source), the runs rows (queries/runs.sql: last_record and next_start of unclean runs) and where each
    /// record begins (`starts`: the oldest stored event, nil when there is none). Rows whose first column is
    /// `host` (the fleet's) name their host in the reason, and so does a start with a host.
    public static func incompleteSpans(gaps: ReportResult, runs: ReportResult, starts: [(host: String?, begins: Timestamp?)],
                                       scope: ReportScope) -> [Incomplete] {
        // The fleet's rows have `host` first (the local runs' `host` column, histd's hostname, is not first).
        func on(_ r: ReportResult, _ i: Int) -> String {
            guard r.columns.first?.name == "host", case .text(let h) = r.value(i, "host") else { return "" }
            return "on host \(h): "
        }
        var incomplete: [Incomplete] = []
        for i in gaps.rows.indices {
            guard case .time(let from) = gaps.value(i, "from"), case .time(let until) = gaps.value(i, "until") else { continue }
            let host = on(gaps, i)
            let hostMarkdown = MarkdownText.inline(host)
            var dropped = "records"
            if case .integer(let n) = gaps.value(i, "dropped") { dropped = "\(n) record\(n == 1 ? "" : "s")" }
            if case .text("storage_outage") = gaps.value(i, "source") {
                let why = Self.lostFileReason(dropped: dropped, states: gaps.value(i, "reason"))
                incomplete.append(Incomplete(from: from, until: until, reason: host + why, reasonMarkdown: hostMarkdown + MarkdownText.inline(why)))
                continue
            }
            if case .text("not_shipped") = gaps.value(i, "source") {
                let words = "its histd-ship last had nothing left to ship at the start of this span; what the host recorded since is not in the central database (yet), or its shipper stopped"
                incomplete.append(Incomplete(from: from, until: until, reason: host + words, reasonMarkdown: hostMarkdown + words))
                continue
            }
            if case .text("ship_gap") = gaps.value(i, "source") {
                // The host's retention deleted them before its shipper shipped them (docs/FLEET.md, "Backpressure").
                var what = "rows"
                if case .text(let t) = gaps.value(i, "reason") { what = t }
                let why = "\(host)\(dropped.replacingOccurrences(of: "record", with: "row")) of \(what) were deleted on the host before they were shipped (ship_gap: ship_max_backlog)"
                incomplete.append(Incomplete(from: from, until: until, reason: why, reasonMarkdown: MarkdownText.inline(why)))
                continue
            }
            var why = "", whyMarkdown = ""
            if case .text(let r) = gaps.value(i, "reason"), !r.isEmpty {
                let listed = r.replacingOccurrences(of: ",", with: ", ")
                why = ": " + listed
                whyMarkdown = ": " + MarkdownText.inline(listed)
            }
            incomplete.append(Incomplete(from: from, until: until, reason: "\(host)\(dropped) dropped (recording_gap\(why))",
                                         reasonMarkdown: "\(hostMarkdown)\(dropped) dropped (recording_gap\(whyMarkdown))"))
        }
        // Before the oldest stored event a record knows nothing: "no known gaps" there would be false.
        for (host, begins) in starts {
            // The host's name is recorded text (escaped for Markdown); the rest is histctl's own words.
            let on = host.map { "on host \($0): " } ?? "", onMarkdown = MarkdownText.inline(on)
            guard let begins else {
                let words = host == nil ? "this database holds no events at all" : "the central database holds no events of this host"
                incomplete.append(Incomplete(from: scope.since, until: scope.until, reason: on + words, reasonMarkdown: onMarkdown + words))
                continue
            }
            guard begins > scope.since else { continue }
            let words = host == nil
                ? "this database holds nothing older than its oldest event (retention pruned what came before, or the file did not exist yet)"
                : "the central database holds nothing older than the host's oldest shipped event (retention dropped what came before, or the host did not ship yet)"
            incomplete.append(Incomplete(from: scope.since, until: min(begins, scope.until), reason: on + words, reasonMarkdown: onMarkdown + words))
        }
        for i in runs.rows.indices {
            guard case .time(let last) = runs.value(i, "last_record"), case .time(let next) = runs.value(i, "next_start"),
                  last < scope.until, next > scope.since else { continue }
            var run = ""
            if case .integer(let n) = runs.value(i, "run") { run = " \(n)" }
            let words = "histd run\(run) ended uncleanly; nothing was recorded until the next start"
            incomplete.append(Incomplete(from: last, until: next, reason: on(runs, i) + words, reasonMarkdown: MarkdownText.inline(on(runs, i)) + words))
        }
        incomplete.sort { ($0.from, $0.until) < ($1.from, $1.until) }
        return incomplete
    }

    /// What `build` gathers on its own connection.
    /// The postmortem's line for a database file histd lost under it (queries/gaps.sql, source
    /// storage_outage): what it took with it, and where that is now when it was only moved.
    static func lostFileReason(dropped: String, states: ReportValue?) -> String {
        var list: [Substring] = []
        if case .text(let t) = states { list = t.split(separator: ",") }
        let written = "the \(dropped) histd wrote to this database then"
        if list.first == "moved" {
            return "\(written) are in the file it was moved to, not in this one (storage_outage: moved)"
        }
        let how = list.first == "replaced" ? "was replaced by another file" : "was deleted"
        return "\(written) were lost: the file \(how) while histd was writing it (storage_outage: \(list.first ?? "deleted"))"
    }

    private struct Main {
        var incomplete: [Incomplete]
        var runs, timeline, crashes, breaches, zombies, orphans: ReportResult
    }

    private static func buildMain(_ db: ReportDatabase, _ scope: ReportScope, args: [String: (any DatabaseValueConvertible)?],
                                  phases: PostmortemPhases?) throws(ReportError) -> Main {
        func step<T>(_ name: String, _ body: () throws(ReportError) -> T) throws(ReportError) -> T { try phases.step(name, body) }
        let gaps = try step("gaps") { () throws(ReportError) in try db.run(query: "gaps", arguments: args, columns: Reports.gapColumns) }
        let runs = try step("runs") { () throws(ReportError) in try db.run(query: "runs", arguments: args, columns: Reports.runColumns) }
        // Before the oldest stored event this file knows nothing: "no known gaps" there would be false.
        let start = try step("record_start") { () throws(ReportError) in
            try db.run(query: "record_start", arguments: [:], columns: [ReportColumn("ts", .time)])
        }
        var begins: Timestamp? = nil
        if case .time(let t) = start.rows.isEmpty ? .null : start.value(0, "ts") { begins = t }
        let incomplete = incompleteSpans(gaps: gaps, runs: runs, starts: [(host: nil, begins: begins)], scope: scope)

        var timeline = try step("timeline") { () throws(ReportError) in try db.run(query: "timeline", arguments: args, columns: Reports.timelineColumns) }
        EventUnits.addUnitColumn(&timeline)
        let crashes = try step("crashes") { () throws(ReportError) in try Reports.crashes(db, scope) }
        let breaches = try step("breaches") { () throws(ReportError) in try Reports.breaches(db, scope) }
        let zombies = try step("zombies") { () throws(ReportError) in try Reports.zombies(db, scope) }
        let orphans = try step("orphans") { () throws(ReportError) in try Reports.orphans(db, scope, olderThan: .zero) }
        return Main(incomplete: incomplete, runs: runs, timeline: timeline, crashes: crashes, breaches: breaches,
                    zombies: zombies, orphans: orphans)
    }

    // MARK: Markdown

    /// Markdown for an incident document. Times in `zone` with their UTC offset.
    public func markdown(zone: TimeZone) -> String {
        func t(_ ts: Timestamp) -> String { TimeText.local(ts, in: zone) }
        var out = "# Postmortem: \(t(scope.since)) to \(t(scope.until))\n\n"
        if incomplete.isEmpty {
            out += "The record has no known gaps in this window.\n\n"
        } else {
            out += incomplete.map {
                "> **⚠ The record is incomplete between \(t($0.from)) and \(t($0.until))**: \($0.reasonMarkdown).\n"
            }.joined(separator: ">\n") + "\n"
        }
        out += "## Summary\n\n"
        out += "- \(timeline.rows.count) events\n"
        out += "- \(crashes.rows.count) crashes (including limit kills) in \(Set(crashes.rows.indices.map { crashes.value($0, "program") }).count) programs\n"
        out += "- \(clusters.rows.count) crash clusters (2 or more crashes within 10 minutes)\n"
        out += "- \(breaches.rows.count) limit breaches\n"
        out += "- \(zombies.rows.count) zombie parents, \(orphans.rows.count) orphans\n"
        out += "- \(runs.rows.count) supervisor runs\n\n"
        out += section("Supervisor runs", runs, zone)
        out += section("Crash clusters", clusters, zone)
        out += crashSection(zone)
        out += section("Limit breaches", breaches, zone)
        out += section("Zombie parents", zombies, zone)
        out += section("Orphans", orphans, zone)
        out += "## Resource usage\n\n"
        if usage.isEmpty {
            out += "No samples in this window.\n\n"
        } else {
            out += "Each chart spans the window asked for (\(t(scope.since)) to \(t(scope.until))) in \(Self.buckets) buckets of "
                + "\(SpanText.text(milliseconds: (scope.until.milliseconds - scope.since.milliseconds) / Int64(Self.buckets))); "
                + "each bar is the bucket's peak sample, a blank means no sample. Max RSS is the largest sample; a limit breach "
                + "can see a higher value between samples (see Limit breaches).\n\n"
            out += "| program | max RSS | RSS | max CPU% | CPU |\n|---|---:|---|---:|---|\n"
            for (u, s) in zip(usage, series) {
                let maxRSS = s.peakRSSKB.map { String(format: "%.1f MiB", $0 / 1024) } ?? "-"
                let maxCPU = s.peakCPUPercent.map { String(format: "%.1f", $0) } ?? "-"
                out += "| \(Self.cell(u.program)) | \(maxRSS) | `\(Sparkline.render(u.rssKB))` | \(maxCPU) | `\(Sparkline.render(u.cpuPercent))` |\n"
            }
            out += "\n"
        }
        out += section("Timeline", timeline, zone)
        return out
    }

    func section(_ title: String, _ r: ReportResult, _ zone: TimeZone) -> String {
        var out = "## \(title)\n\n"
        guard !r.rows.isEmpty else { return out + "None.\n\n" }
        out += "| " + r.columns.map(\.name).joined(separator: " | ") + " |\n"
        out += "|" + String(repeating: "---|", count: r.columns.count) + "\n"
        // Appended cell by cell into one string (the timeline of a busy hour is 17,000 rows).
        out.reserveCapacity(out.utf8.count + r.rows.count * 100)
        for row in r.rows {
            out += "|"
            for v in row {
                out += " "
                // Text from the database is escaped (MarkdownText.inline makes it visible first, as
                // tableText would); numbers and times are histctl's own.
                if case .text(let s) = v { out += Self.cell(s) } else { out += Renderer.tableText(v, zone: zone) }
                out += " |"
            }
            out += "\n"
        }
        return out + "\n"
    }

    /// Crashes with identical stderr tails collapsed: one table row per (program, tail), then each
    /// distinct tail once, as an indented code block.
    func crashSection(_ zone: TimeZone) -> String {
        func t(_ ts: Timestamp) -> String { TimeText.local(ts, in: zone) }
        var out = "## Crashes\n\n"
        guard !crashGroups.isEmpty else { return out + "None.\n\n" }
        out += "\(crashes.rows.count) crashes (including limit kills) with \(crashGroups.count) distinct (program, stderr tail) pairs; "
            + "identical ones are collapsed.\n\n"
        out += "| # | program | crashes | limit kills | ended by | first | last |\n|---:|---|---:|---:|---|---|---|\n"
        for (n, g) in crashGroups.enumerated() {
            out += "| \(n + 1) | \(Self.cell(g.program)) | \(g.count) | \(g.limitKills) | \(Self.cell(g.endings.joined(separator: ", "))) | \(t(g.first)) | \(t(g.last)) |\n"
        }
        out += "\n"
        for (n, g) in crashGroups.enumerated() {
            out += "### #\(n + 1) \(Self.cell(g.program)): \(g.summary(t))\n\n"
            if let tail = g.tail { out += MarkdownText.codeBlock(tail) + "\n" } else { out += "No stderr output.\n\n" }
        }
        return out
    }

    /// A Markdown table cell from untrusted text: Markdown and HTML syntax escaped (MarkdownText).
    static func cell(_ s: String) -> String { MarkdownText.inline(s) }

    // MARK: JSON

    /// One JSON object: `since`, `until`, `record_incomplete`, then each section as an array of objects.
    public func json() -> String {
        func array(_ r: ReportResult) -> String {
            guard !r.rows.isEmpty else { return "[]" }
            return "[\n    " + r.rows.map { Renderer.jsonObject(columns: r.columns.map(\.name), row: $0) }.joined(separator: ",\n    ") + "\n  ]"
        }
        func numbers(_ v: [Double?]) -> String {
            "[" + v.map { $0.map { Renderer.jsonValue(.real($0)) } ?? "null" }.joined(separator: ", ") + "]"
        }
        var out = "{\n"
        out += "  \"since\": \(Renderer.jsonValue(.time(scope.since))),\n"
        out += "  \"until\": \(Renderer.jsonValue(.time(scope.until))),\n"
        let gaps = incomplete.map {
            Renderer.jsonObject(columns: ["from", "until", "reason"], row: [.time($0.from), .time($0.until), .text($0.reason)])
        }
        out += "  \"record_incomplete\": " + (gaps.isEmpty ? "[]" : "[\n    " + gaps.joined(separator: ",\n    ") + "\n  ]") + ",\n"
        out += "  \"runs\": \(array(runs)),\n"
        out += "  \"crash_clusters\": \(array(clusters)),\n"
        out += "  \"crashes\": \(array(crashes)),\n"
        let groups = crashGroups.map {
            Renderer.jsonObject(columns: ["program", "crashes", "limit_kills", "first", "last", "first_pid", "last_pid", "ended_by", "stderr_tail"],
                                row: [.text($0.program), .integer(Int64($0.count)), .integer(Int64($0.limitKills)), .time($0.first), .time($0.last),
                                      $0.firstPID.map { .integer($0) } ?? .null, $0.lastPID.map { .integer($0) } ?? .null,
                                      .text($0.endings.joined(separator: ", ")), $0.tail.map { .text($0) } ?? .null])
        }
        out += "  \"crash_groups\": " + (groups.isEmpty ? "[]" : "[\n    " + groups.joined(separator: ",\n    ") + "\n  ]") + ",\n"
        out += "  \"breaches\": \(array(breaches)),\n"
        out += "  \"zombies\": \(array(zombies)),\n"
        out += "  \"orphans\": \(array(orphans)),\n"
        // CPU% with one decimal, as the JSON always had it (the series keep full precision for the charts).
        let usageObjects = usage.map {
            "{\"program\": \(Renderer.jsonString($0.program)), \"rss_kb\": \(numbers($0.rssKB)), \"cpu_pct\": \(numbers($0.cpuPercent.map { $0.map { ($0 * 10).rounded() / 10 } })), "
                + "\"rss_chart\": \(Renderer.jsonString(Sparkline.render($0.rssKB))), \"cpu_chart\": \(Renderer.jsonString(Sparkline.render($0.cpuPercent)))}"
        }
        out += "  \"usage\": " + (usageObjects.isEmpty ? "[]" : "[\n    " + usageObjects.joined(separator: ",\n    ") + "\n  ]") + ",\n"
        out += "  \"timeline\": \(array(timeline))\n"
        return out + "}\n"
    }
}

extension ReportValue {
    /// The value as a Double when it is a number.
    public var double: Double? {
        switch self {
        case .integer(let n): Double(n)
        case .real(let d): d
        default: nil
        }
    }
}

/// Wall time per step of `Postmortem.build`, in the order they ended (histbench's `postmortem` profile;
/// nothing else reads it). The side queries (PostmortemSide) add theirs from their own thread.
public final class PostmortemPhases: Sendable {
    private let recorded = Mutex<[(name: String, duration: Duration)]>([])
    public var steps: [(name: String, duration: Duration)] { recorded.withLock { $0 } }
    public init() {}
    func add(_ name: String, _ d: Duration) { recorded.withLock { $0.append((name, d)) } }
}

extension Optional where Wrapped == PostmortemPhases {
    /// Runs `body`, and when profiling, records its wall time under `name`.
    func step<T>(_ name: String, _ body: () throws(ReportError) -> T) throws(ReportError) -> T {
        guard let phases = self else { return try body() }
        let t0 = ContinuousClock.now
        let r = try body()
        phases.add(name, ContinuousClock.now - t0)
        return r
    }
}
