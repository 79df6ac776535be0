import HistModel
import HistReports

/// `histctl --db postgres://... postmortem`: the incident report over the shipped history of the hosts in
/// scope, with the local report's sections and renderings (Markdown, JSON, HTML), each table with `host` first.
///
/// What differs from a host's own postmortem, and why:
/// - The completeness notes also name the central record's holes: each host's ship_gaps (rows its retention
///   deleted before they were shipped) and where each host's shipped events begin.
/// - The charts come from the shipped snapshots ([ship] ship_snapshots), one sweep per interval: the same
///   RSS values at those sweeps, CPU% averaged between shipped samples (queries/postgres/usage.sql). A host
///   that ships no snapshots has no charts. With more than one host, a series is named "HOST: PROGRAM".
/// - No limit lines on the charts: the programs' configs (program_configs) are not shipped.
public enum FleetPostmortem {
    /// The crash clusters' window (2 or more crashes within it), as in the local report.
    static let clusterWindowMs: Int64 = 600_000

    public static func build(_ db: FleetDatabase, _ scope: FleetScope, now: Int64) async throws(FleetError) -> Postmortem {
        let host = FleetReports.hostColumn
        let range: [FleetValue] = [.integer(scope.since), .integer(scope.until)]
        let gaps = try await FleetReports.run(db, query: "gaps", range + [.texts(scope.hosts)], columns: [host] + Reports.gapColumns)
        let runs = try await FleetReports.run(db, query: "runs", range + [.texts(scope.hosts)],
                                              columns: [host] + Reports.runColumns.filter { $0.name != "host" })
        let starts = try await FleetReports.run(db, query: "record_start", [.texts(scope.hosts)],
                                                columns: [host, ReportColumn("ts", .time)])
        var timeline = try await FleetReports.run(db, query: "timeline", range + [.texts(scope.programs), .texts(scope.hosts)],
                                                  columns: [host] + Reports.timelineColumns)
        EventUnits.addUnitColumn(&timeline)
        let crashes = try await FleetReports.crashes(db, scope)
        let clusters = try await FleetReports.loops(db, scope, windowMs: clusterWindowMs, minCrashes: 2)
        let breaches = try await FleetReports.breaches(db, scope)
        let zombies = try await FleetReports.zombies(db, scope, filter: ZombieFilter())
        let orphans = try await FleetReports.orphans(db, scope, olderThanMs: 0)
        let usage = try await FleetReports.run(db, query: "usage",
                                               range + [.integer(Int64(Postmortem.seriesBuckets)), .texts(scope.programs), .texts(scope.hosts)],
                                               columns: [host, ReportColumn("program"), ReportColumn("bucket"), ReportColumn("time", .time),
                                                         ReportColumn("rss_kb"), ReportColumn("cpu_pct")])

        let report = ReportScope(since: Timestamp(milliseconds: scope.since), until: Timestamp(milliseconds: scope.until),
                                 programs: scope.programs, now: Timestamp(milliseconds: now))
        // Every host asked for has a start: one the central database has never heard of holds nothing.
        var begins: [(host: String?, begins: Timestamp?)] = starts.rows.indices.map { i in
            let h: String? = if case .text(let t) = starts.value(i, "host") { t } else { nil }
            let t: Timestamp? = if case .time(let t) = starts.value(i, "ts") { t } else { nil }
            return (h, t)
        }
        for h in scope.hosts where !begins.contains(where: { $0.host == h }) { begins.append((h, nil)) }
        let incomplete = Postmortem.incompleteSpans(gaps: gaps, runs: runs, starts: begins, scope: report)
        return Postmortem.assemble(scope: report, incomplete: incomplete, runs: runs, timeline: timeline, crashes: crashes,
                                   clusters: clusters, breaches: breaches, zombies: zombies, orphans: orphans,
                                   series: series(usage), limits: [])
    }

    /// queries/postgres/usage.sql rows (ordered by host, program, bucket) as one series per (host, program),
    /// named by the program alone when they all come from one host.
    static func series(_ rows: ReportResult) -> [UsageSeries] {
        var hosts: [(host: String, rows: ReportResult)] = []
        for (i, row) in rows.rows.enumerated() {
            guard case .text(let h) = rows.value(i, "host") else { continue }
            if hosts.last?.host != h { hosts.append((h, ReportResult(columns: rows.columns, rows: []))) }
            hosts[hosts.count - 1].rows.rows.append(row)
        }
        let oneHost = hosts.count <= 1
        return hosts.flatMap { h in
            UsageSeries.from(h.rows).map { s in
                var s = s
                if !oneHost { s.program = "\(h.host): \(s.program)" }
                return s
            }
        }
    }
}
