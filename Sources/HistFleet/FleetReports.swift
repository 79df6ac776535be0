import Foundation
import GRDB
import HistModel
import HistReports

/// The fleet reports: queries/postgres/*.sql, the twins of the local reports with a `host` column first.
/// Each runs in a READ ONLY transaction with a statement timeout, so a report can neither change the
/// central database nor hold a server busy for long.
public enum FleetReports {
    /// How long one report statement may run on the server.
    public static let statementTimeoutMs = 30_000

    public static let hostColumn = ReportColumn("host")
    public static let statusColumns = [
        hostColumn, ReportColumn("program"), ReportColumn("kind", drop: 2), ReportColumn("state"), ReportColumn("pid", drop: 3),
        ReportColumn("uptime_s", .seconds), ReportColumn("last_exit_at", .time, drop: 4), ReportColumn("last_exit_code", drop: 5),
        ReportColumn("last_signal", .signal, drop: 6), ReportColumn("shipped_at", .time, drop: 1),
    ]

    static func sql(_ name: String) -> String {
        EmbeddedSQL.queries.first(where: { $0.name == name + ".sql" })!.sql
    }

    public static func run(_ db: FleetDatabase, query: String, _ binds: [FleetValue], columns: [ReportColumn]) async throws(FleetError) -> ReportResult {
        // No JIT: PostgreSQL compiles a report's expressions when its cost estimate passes jit_above_cost,
        // which every report over a large fleet does, and the compile took 0.3-0.9 s per report over 100
        // hosts x 1 day, more than it saved (BENCHMARKS.md, fleet reports).
        try await db.execute(script: "BEGIN READ ONLY; SET LOCAL statement_timeout = \(statementTimeoutMs); SET LOCAL jit = off")
        do {
            let rows = try await db.rows(sql(query), binds)
            try await db.execute(script: "COMMIT")
            return ReportResult(columns: columns, rows: rows.map { r in
                r.indices.map { i in ReportDatabase.reportValue(r[i], as: i < columns.count ? columns[i].kind : .auto) }
            })
        } catch {
            try? await db.execute(script: "ROLLBACK")
            let text = FleetError.text(error)
            if text.contains("57014") {
                throw FleetError("the fleet query \(query) ran longer than \(statementTimeoutMs / 1000) s on \(db.url) and was cancelled: narrow it with --since, --host or --program")
            }
            // 42P01 undefined table, 42883 undefined function: a central schema older than these queries
            // (a histd-ship that has not run since this histctl was installed applies the migrations).
            if text.contains("42P01") || text.contains("42883") {
                throw FleetError("fleet query \(query) failed on \(db.url): the central schema lacks what this histctl reads (\(text)); apply the newer central migrations with `histctl fleet migrate --db URL` (histd-ship also applies them when it starts)")
            }
            throw FleetError("fleet query \(query) failed on \(db.url): \(text)")
        }
    }

    /// The `--program` names that no host in scope has recorded, and the program names it has (for "did you
    /// mean"): an unknown name is an error, as in the local reports, never an empty report that
    /// `--fail-if-found` would read as "all is well". A pool worker counts by the name its logs use,
    /// `POOL.INDEX`, when that slot has had a process on one of the hosts (the fleet queries match it so).
    public static func unknownPrograms(_ db: FleetDatabase, _ scope: FleetScope) async throws(FleetError) -> (unknown: [String], known: [String]) {
        guard !scope.programs.isEmpty else { return ([], []) }
        // Inline, not a queries/postgres file: it is a check before a report, with no local twin to match.
        let unknown = try await db.rows("""
            SELECT n FROM unnest($1::text[]) WITH ORDINALITY AS t(n, ord)
            WHERE NOT EXISTS (SELECT 1 FROM programs p
                              WHERE p.name = t.n AND (cardinality($2::text[]) = 0 OR p.host_id = ANY($2::text[])))
              AND NOT EXISTS (SELECT 1 FROM programs p
                              JOIN instances i ON i.host_id = p.host_id AND i.db_epoch = p.db_epoch AND i.program_id = p.id
                              WHERE p.kind = 'pool' AND p.name || '.' || i.worker_index = t.n
                                AND (cardinality($2::text[]) = 0 OR p.host_id = ANY($2::text[])))
            ORDER BY t.ord
            """, [.texts(scope.programs), .texts(scope.hosts)])
        guard !unknown.isEmpty else { return ([], []) }
        let known = try await db.rows("""
            SELECT DISTINCT name FROM programs WHERE cardinality($1::text[]) = 0 OR host_id = ANY($1::text[]) ORDER BY name
            """, [.texts(scope.hosts)])
        func text(_ row: [DatabaseValue]) -> String? { row.first.flatMap { String.fromDatabaseValue($0) } }
        return (unknown.compactMap(text), known.compactMap(text))
    }

    public static func crashes(_ db: FleetDatabase, _ scope: FleetScope, summary: Bool = false, newest: Int? = nil) async throws(FleetError) -> ReportResult {
        if summary {
            return try await run(db, query: "crashes_summary",
                                 [.integer(scope.since), .integer(scope.until), .texts(scope.programs), .texts(scope.hosts)],
                                 columns: [hostColumn] + Reports.crashSummaryColumns)
        }
        return try await run(db, query: "crashes",
                             [.integer(scope.since), .integer(scope.until), .texts(scope.programs), .texts(scope.hosts),
                              newest.map { .integer(Int64($0)) } ?? .null],
                             columns: [hostColumn] + Reports.crashColumns)
    }

    public static func loops(_ db: FleetDatabase, _ scope: FleetScope, windowMs: Int64, minCrashes: Int) async throws(FleetError) -> ReportResult {
        try await run(db, query: "loops",
                      [.integer(scope.since), .integer(scope.until), .texts(scope.programs), .texts(scope.hosts),
                       .integer(windowMs), .integer(Int64(max(1, minCrashes)))],
                      columns: [hostColumn] + Reports.loopColumns)
    }

    public static func status(_ db: FleetDatabase, _ scope: FleetScope, now: Int64) async throws(FleetError) -> ReportResult {
        try await run(db, query: "status", [.integer(now), .texts(scope.programs), .texts(scope.hosts)], columns: statusColumns)
    }

    public static func breaches(_ db: FleetDatabase, _ scope: FleetScope) async throws(FleetError) -> ReportResult {
        try await run(db, query: "breaches", [.integer(scope.since), .integer(scope.until), .texts(scope.programs), .texts(scope.hosts)],
                      columns: [hostColumn] + Reports.breachColumns)
    }

    public static func zombies(_ db: FleetDatabase, _ scope: FleetScope, filter: ZombieFilter) async throws(FleetError) -> ReportResult {
        try await run(db, query: "zombies",
                      [.integer(scope.since), .integer(scope.until), .texts(scope.programs), .texts(scope.hosts),
                       .integer(Int64(filter.minScans)), .integer(filter.minDuration.milliseconds), .integer(Int64(filter.minZombies))],
                      columns: [hostColumn] + Reports.zombieColumns)
    }

    public static func orphans(_ db: FleetDatabase, _ scope: FleetScope, olderThanMs: Int64) async throws(FleetError) -> ReportResult {
        try await run(db, query: "orphans",
                      [.integer(scope.since), .integer(scope.until), .texts(scope.programs), .texts(scope.hosts), .integer(olderThanMs)],
                      columns: [hostColumn] + Reports.orphanColumns)
    }
}
