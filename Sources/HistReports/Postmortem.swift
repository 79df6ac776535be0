import Foundation
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
    public var usage: [Usage]

    /// Number of buckets in each chart.
    public static let buckets = 40

    /// Gathers the report. Crash clusters are crash loops of at least 2 crashes within `clusterWindow`.
    public static func build(_ db: ReportDatabase, _ scope: ReportScope, clusterWindow: Duration = .seconds(600)) throws(ReportError) -> Postmortem {
        let args = scope.arguments
        let gaps = try db.run(query: "gaps", arguments: args, columns: Reports.gapColumns)
        let runs = try db.run(query: "runs", arguments: args, columns: Reports.runColumns)
        var incomplete: [Incomplete] = []
        for i in gaps.rows.indices {
            guard case .time(let from) = gaps.value(i, "from"), case .time(let until) = gaps.value(i, "until") else { continue }
            var dropped = "records"
            if case .integer(let n) = gaps.value(i, "dropped") { dropped = "\(n) record\(n == 1 ? "" : "s")" }
            var why = ""
            if case .text(let r) = gaps.value(i, "reason"), !r.isEmpty { why = ": " + r.replacingOccurrences(of: ",", with: ", ") }
            incomplete.append(Incomplete(from: from, until: until, reason: "\(dropped) dropped (recording_gap\(why))"))
        }
        for i in runs.rows.indices {
            guard case .time(let last) = runs.value(i, "last_record"), case .time(let next) = runs.value(i, "next_start"),
                  last < scope.until, next > scope.since else { continue }
            var run = ""
            if case .integer(let n) = runs.value(i, "run") { run = " \(n)" }
            incomplete.append(Incomplete(from: last, until: next, reason: "histd run\(run) ended uncleanly; nothing was recorded until the next start"))
        }
        incomplete.sort { ($0.from, $0.until) < ($1.from, $1.until) }

        let usageRows = try db.run(query: "usage", arguments: args.merging(["buckets": buckets]) { $1 }, columns: Reports.usageColumns)
        var usage: [Usage] = []
        for i in usageRows.rows.indices {
            guard case .text(let program) = usageRows.value(i, "program"), case .integer(let b) = usageRows.value(i, "bucket"),
                  b >= 0, b < buckets else { continue }
            if usage.last?.program != program {
                usage.append(Usage(program: program, rssKB: Array(repeating: nil, count: buckets), cpuPercent: Array(repeating: nil, count: buckets)))
            }
            usage[usage.count - 1].rssKB[Int(b)] = usageRows.value(i, "rss_kb").double
            usage[usage.count - 1].cpuPercent[Int(b)] = usageRows.value(i, "cpu_pct").double
        }

        return Postmortem(
            scope: scope, incomplete: incomplete, runs: runs,
            timeline: try db.run(query: "timeline", arguments: args, columns: Reports.timelineColumns),
            crashes: try Reports.crashes(db, scope),
            clusters: try Reports.loops(db, scope, window: clusterWindow, minCrashes: 2),
            breaches: try Reports.breaches(db, scope),
            zombies: try Reports.zombies(db, scope),
            orphans: try Reports.orphans(db, scope, olderThan: .zero),
            usage: usage)
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
                "> **⚠ The record is incomplete between \(t($0.from)) and \(t($0.until))**: \($0.reason).\n"
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
        out += section("Crashes", crashes, zone)
        out += section("Limit breaches", breaches, zone)
        out += section("Zombie parents", zombies, zone)
        out += section("Orphans", orphans, zone)
        out += "## Resource usage\n\n"
        if usage.isEmpty {
            out += "No samples in this window.\n\n"
        } else {
            out += "Each chart spans the window in \(Self.buckets) buckets; a blank means no sample.\n\n"
            out += "| program | max RSS | RSS | max CPU% | CPU |\n|---|---:|---|---:|---|\n"
            for u in usage {
                let maxRSS = u.rssKB.compactMap { $0 }.max().map { String(format: "%.1f MiB", $0 / 1024) } ?? "-"
                let maxCPU = u.cpuPercent.compactMap { $0 }.max().map { String(format: "%.1f", $0) } ?? "-"
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
        for row in r.rows {
            out += "| " + row.map { Self.cell(Renderer.tableText($0, zone: zone)) }.joined(separator: " | ") + " |\n"
        }
        return out + "\n"
    }

    /// A Markdown table cell: pipes escaped (newlines are already visible as ⏎).
    static func cell(_ s: String) -> String {
        Renderer.visible(s).replacingOccurrences(of: "|", with: "\\|")
    }

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
        out += "  \"breaches\": \(array(breaches)),\n"
        out += "  \"zombies\": \(array(zombies)),\n"
        out += "  \"orphans\": \(array(orphans)),\n"
        let usageObjects = usage.map {
            "{\"program\": \(Renderer.jsonString($0.program)), \"rss_kb\": \(numbers($0.rssKB)), \"cpu_pct\": \(numbers($0.cpuPercent)), "
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
