import Foundation
import GRDB
import HistModel
import HistStore
import HistTestSupport
import Testing

extension EndToEnd.FleetShip {
    /// The central crash_hours rows defined from the raw central rows (migrations/postgres/0003_crash_hours.sql),
    /// as `lines` text, for comparing with the table the triggers keep.
    static let crashHoursColumns = ["host_id", "db_epoch", "hour", "program_id", "worker", "class", "exit_code", "signal",
                                    "crashes", "first_ms", "last_ms"]
    static let crashHoursDefinition = """
        (SELECT i.host_id, i.db_epoch, i.ended_at - i.ended_at % 3600000 AS hour, i.program_id,
                coalesce(i.worker_index, -1) AS worker, i.class, coalesce(i.exit_code, -1) AS exit_code,
                coalesce(i.signal, 0) AS signal, count(*) AS crashes, min(i.ended_at) AS first_ms, max(i.ended_at) AS last_ms
         FROM instances i
         WHERE i.class IN ('crash', 'limit') AND i.ended_at IS NOT NULL
           AND NOT EXISTS (SELECT 1 FROM operator_effects f WHERE f.host_id = i.host_id AND f.db_epoch = i.db_epoch
                                                              AND f.instance_id = i.id AND f.effect = 'ended')
         GROUP BY 1, 2, 3, 4, 5, 6, 7, 8) d
        """

    /// The central crash_spans rows (migrations/postgres/0005_crash_spans.sql) defined from the raw central
    /// rows: per span of 10 minutes, an hour and 6 hours (start rounded down), host, epoch and program.
    static let crashSpansColumns = ["span_ms", "start_ms", "host_id", "db_epoch", "program_id", "crashes", "limit_kills",
                                    "first_ms", "last_ms", "exit_codes", "signals"]
    static let crashSpansDefinition = """
        (SELECT s.span_ms, i.ended_at - ((i.ended_at % s.span_ms) + s.span_ms) % s.span_ms AS start_ms, i.host_id, i.db_epoch,
                i.program_id, count(*) AS crashes, count(*) FILTER (WHERE i.class = 'limit') AS limit_kills,
                min(i.ended_at) AS first_ms, max(i.ended_at) AS last_ms,
                coalesce(array_agg(DISTINCT i.exit_code ORDER BY i.exit_code) FILTER (WHERE i.exit_code >= 0), '{}') AS exit_codes,
                coalesce(array_agg(DISTINCT i.signal ORDER BY i.signal) FILTER (WHERE i.signal <> 0), '{}') AS signals
         FROM instances i CROSS JOIN (VALUES (600000::bigint), (3600000), (21600000)) AS s(span_ms)
         WHERE i.class IN ('crash', 'limit') AND i.ended_at IS NOT NULL
           AND NOT EXISTS (SELECT 1 FROM operator_effects f WHERE f.host_id = i.host_id AND f.db_epoch = i.db_epoch
                                                              AND f.instance_id = i.id AND f.effect = 'ended')
         GROUP BY 1, 2, 3, 4, 5) d
        """

    /// A central rollup the triggers keep (`table`) equals its `definition` over the raw rows, row for row,
    /// and the definition has rows (an empty pair would prove nothing).
    static func expectRollupExact(_ pg: PostgresCluster, _ what: String, table: String, columns: [String], definition: String,
                                  sourceLocation: SourceLocation = #_sourceLocation) throws {
        let kept = try pg.records(lines(table, columns)).sorted()
        let defined = try pg.records(lines(definition, columns)).sorted()
        #expect(!defined.isEmpty, "\(what): \(table)'s definition has no rows", sourceLocation: sourceLocation)
        #expect(kept == defined, "\(what): \(table) differs from its definition: kept-only \(Array(Set(kept).subtracting(defined).prefix(3))), defined-only \(Array(Set(defined).subtracting(kept).prefix(3)))",
                sourceLocation: sourceLocation)
    }

    /// Both crash rollups, crash_hours (0003) and crash_spans (0005), equal their definitions.
    static func expectCrashHoursExact(_ pg: PostgresCluster, _ what: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        try expectRollupExact(pg, what, table: "crash_hours", columns: crashHoursColumns, definition: crashHoursDefinition,
                              sourceLocation: sourceLocation)
        try expectRollupExact(pg, what, table: "crash_spans", columns: crashSpansColumns, definition: crashSpansDefinition,
                              sourceLocation: sourceLocation)
    }

    /// A generated history of several hours (6 programs with a pool; a third crash a lot) with ship capture
    /// turned on after it, shipped once as host h1 in batches of `batch`. Returns its path and end time.
    static func shipGeneratedHistory(_ ws: Workspace, _ pg: PostgresCluster, seed: UInt64, batch: Int = 5000) throws -> (path: String, end: Timestamp) {
        let path = ws.path("h.db")
        let size = HistoryFixture.Size(programs: 6, poolEvery: 3, poolWorkers: 2, days: 0.25, cyclesPerDay: 2000,
                                       snapshotEvery: .seconds(600), snapshotDays: 0.01, scanEvery: .seconds(600), seed: seed)
        let end = Timestamp.now()
        _ = try HistoryFixture.generate(at: path, size: size, end: end)
        try HistoryStore.open(path: path, ship: .on).close()
        let shipped = try shipOnce(ws, pg, host: "h1", batch: batch)
        #expect(shipped.status == 0, "histd-ship failed: \(shipped.stderr)")
        return (path, end)
    }

    /// A rollup's rows for host h1 centrally equal the host's local rollup, row for row (`columns`: those
    /// both sides have), and there are more than `minimum` of them. Returns the local row count.
    @discardableResult
    static func expectCentralRollupEqualsLocal(_ pg: PostgresCluster, localPath: String, table: String, columns: [String], minimum: Int,
                                              sourceLocation: SourceLocation = #_sourceLocation) throws -> Int {
        let local = try DatabaseQueue(path: localPath)
        let epoch = try local.read { try String.fetchOne($0, sql: "SELECT epoch FROM ship_epoch") } ?? "?"
        let localRows = try local.read { try String.fetchAll($0, sql: lines(table, columns)) }.sorted()
        let centralRows = try pg.records(lines(table, columns) + " WHERE host_id = 'h1' AND db_epoch = '\(epoch)'").sorted()
        #expect(localRows.count > minimum, "the fixture should span several hours: \(localRows.count) \(table) rows", sourceLocation: sourceLocation)
        #expect(centralRows == localRows, "central \(table) differs from local: central-only \(Array(Set(centralRows).subtracting(localRows).prefix(3))), local-only \(Array(Set(localRows).subtracting(centralRows).prefix(3)))",
                sourceLocation: sourceLocation)
        return localRows.count
    }

    /// The changes to h1's central crashes that every rollup must follow, in order: one corrected to a clean
    /// exit, one moved two hours earlier, one reopened and then ended as a limit kill, an operator 'ended'
    /// effect arriving for one, one deleted, and the effect deleted again.
    typealias CentralCrash = (id: Int64, program: Int64, endedAt: Int64)
    static func crashChanges(corrected a: CentralCrash, moved b: CentralCrash, reopened c: CentralCrash,
                             endedByOperator d: CentralCrash, deleted e: CentralCrash) -> [(what: String, sql: String)] {
        [
            ("a crash corrected to a clean exit", "UPDATE instances SET class = 'exit', exit_code = 0 WHERE host_id = 'h1' AND id = \(a.id)"),
            ("a crash moved two hours earlier", "UPDATE instances SET ended_at = ended_at - 7200000 WHERE host_id = 'h1' AND id = \(b.id)"),
            ("a crash reopened", "UPDATE instances SET ended_at = NULL, class = NULL WHERE host_id = 'h1' AND id = \(c.id)"),
            ("the reopened instance ended as a limit kill",
             "UPDATE instances SET ended_at = \(c.endedAt + 1), class = 'limit' WHERE host_id = 'h1' AND id = \(c.id)"),
            ("an operator 'ended' effect arrived for a counted crash", """
             INSERT INTO operator_effects (host_id, db_epoch, seq, instance_id, effect, run_id, action_seq)
             SELECT host_id, db_epoch, 0, id, 'ended', run_id, 1 FROM instances WHERE host_id = 'h1' AND id = \(d.id)
             """),
            ("a crash deleted", "DELETE FROM instances WHERE host_id = 'h1' AND id = \(e.id)"),
            ("the effect deleted", "DELETE FROM operator_effects WHERE host_id = 'h1' AND instance_id = \(d.id)"),
        ]
    }

    /// Runs a central migration file (migrations/postgres/NAME) by hand, as the upgrade tests do after
    /// dropping what it created.
    static func applyCentralMigration(_ pg: PostgresCluster, _ name: String) throws {
        _ = try pg.psql(try String(contentsOf: E2E.root.appendingPathComponent("migrations/postgres/" + name), encoding: .utf8))
    }

    /// h1's crash at `offset` in id order, centrally.
    static func centralCrash(_ pg: PostgresCluster, _ offset: Int) throws -> CentralCrash {
        let row = try pg.psql("""
            SELECT id || ',' || program_id || ',' || ended_at FROM instances WHERE host_id = 'h1' AND class = 'crash'
            ORDER BY id OFFSET \(offset) LIMIT 1
            """).split(separator: ",").compactMap { Int64($0) }
        try #require(row.count == 3, "no crash at offset \(offset)")
        return (row[0], row[1], row[2])
    }

    /// A history of several hours (generated, 6 programs with a pool) shipped: central crash_hours equals the
    /// host's local crash_hours row for row, and fleet `crashes --summary` equals the local report for ranges
    /// with whole 6-hour spans, hours, 10-minute spans and raw edges (crash_spans, 0005) and with a program
    /// filter (crash_hours), and is shown to read crash_spans. Then every way the rollups can change
    /// centrally: an instance re-shipped unchanged, one that ended later as a crash, one corrected to a clean
    /// exit, one that moves to another hour, an operator 'ended' effect arriving after its crash, a deleted
    /// instance and a deleted effect; after each, both rollups equal their definitions over the raw rows.
    @Test(.enabled(if: PostgresCluster.available, "PostgreSQL 15 is not installed (/usr/lib/postgresql/15/bin)"))
    func crashHoursRollupIsExactAndTheSummaryReadsWholeHoursFromIt() throws {
        let ws = try Workspace("fleet-crash-hours")
        let pg = try PostgresCluster()
        defer { ws.cleanup(); pg.remove() }
        let (path, end) = try Self.shipGeneratedHistory(ws, pg, seed: 5)

        let rollupRows = try Self.expectCentralRollupEqualsLocal(pg, localPath: path, table: "crash_hours",
                                                                 columns: Array(Self.crashHoursColumns.dropFirst(2)), minimum: 6 * 4)
        try Self.expectCrashHoursExact(pg, "after the first shipment")

        // Ranges: whole hours with partial edges, exactly whole hours, inside one hour, and one program.
        let hour: Int64 = 3_600_000
        let base = end.milliseconds - end.milliseconds % hour
        let sixHours = 6 * hour
        let block = end.milliseconds - end.milliseconds % sixHours
        let ranges: [(since: Int64, until: Int64, extra: [String])] = [
            (base - 5 * hour + 123_456, end.milliseconds - 17_000, []),
            // A whole 6-hour span (crash_spans), then hours, 10-minute spans and raw minutes at both edges.
            (block - sixHours - 3 * hour - 1_234_567, end.milliseconds - 1, []),
            // 10-minute spans and raw minutes only; and exactly one 6-hour span.
            (base - 2 * hour + 61_000, base - hour + 1_799_000, []),
            (block - sixHours, block, []),
            (base - 4 * hour, base - hour, []),
            (base - 2 * hour + 60_000, base - 2 * hour + 1_800_000, []),
            (base - 5 * hour + 1, end.milliseconds, ["--program", "prog-001"]),
            (base - 5 * hour + 1, end.milliseconds, ["--program", "pool-002.1"]),
        ]
        func iso(_ ms: Int64) -> String { Self.iso(Date(timeIntervalSince1970: Double(ms) / 1000)) }
        var compared = 0
        for r in ranges {
            let args = ["crashes", "--summary", "--since", iso(r.since), "--until", iso(r.until), "--format", "json"] + r.extra
            let l = try Self.json(try Self.histctl(args + ["--db", path]))
            let f = try Self.json(try Self.histctl(args + ["--db", pg.url, "--host", "h1"]), dropHost: true)
            #expect(!l.isEmpty, "no crashes locally in \(args)")
            #expect(l == f, "fleet crashes --summary differs from local for \(args):\nlocal \(l)\nfleet \(f)")
            compared += l.count
        }
        #expect(compared > 6, "\(compared) summary rows in all")
        // The summary with no filter reads crash_spans, not only raw rows: a tampered span shows in it.
        let whole = ["crashes", "--summary", "--since", iso(ranges[1].since), "--until", iso(ranges[1].until), "--format", "json",
                     "--db", pg.url, "--host", "h1"]
        let honest = try Self.json(try Self.histctl(whole))
        _ = try pg.psql("UPDATE crash_spans SET crashes = crashes + 1000000")
        #expect(try Self.json(try Self.histctl(whole)) != honest, "fleet crashes --summary did not read crash_spans")
        _ = try pg.psql("UPDATE crash_spans SET crashes = crashes - 1000000")

        // Every kind of central change, each followed by the exactness check.
        func crash(_ offset: Int) throws -> CentralCrash { try Self.centralCrash(pg, offset) }
        let reshipped = try Self.shipOnce(ws, pg, host: "h1")
        #expect(reshipped.status == 0, "\(reshipped.stderr)")
        let a = try crash(0), b = try crash(1), c = try crash(2), d = try crash(3), e = try crash(4)
        let changes: [(what: String, sql: String)] = [
            ("every instance updated to the same state", "UPDATE instances SET seq = seq WHERE host_id = 'h1'"),
        ] + Self.crashChanges(corrected: a, moved: b, reopened: c, endedByOperator: d, deleted: e) + [
            // Many rows in one statement, as histd-ship's multi-row upserts and a fixture's INSERT ... SELECT do.
            ("one INSERT ... SELECT copied the host", """
             INSERT INTO instances SELECT 'h2', db_epoch, seq, id, run_id, program_id, worker_index, pid, start_ticks,
                 started_at, ended_at, exit_code, signal, core_dumped, class, uptime_ms, stderr_tail, restart_delay_ms
             FROM instances WHERE host_id = 'h1'
             """),
            ("one UPDATE moved every seventh instance", "UPDATE instances SET ended_at = ended_at + 1 WHERE host_id = 'h2' AND id % 7 = 0"),
        ]
        for change in changes {
            _ = try pg.psql(change.sql)
            try Self.expectCrashHoursExact(pg, "after \(change.what)")
        }
        #expect(try pg.count("SELECT count(*) FROM crash_hours WHERE host_id = 'h2'") > 0)
        // 0003 on a central database that already holds rows (an upgrade): its fill equals the definition too.
        _ = try pg.psql("""
            DROP TABLE crash_hours;
            DROP TRIGGER crash_hours_instances_insert ON instances; DROP TRIGGER crash_hours_instances_update ON instances;
            DROP TRIGGER crash_hours_instances_delete ON instances; DROP TRIGGER crash_hours_effects_insert ON operator_effects;
            DROP TRIGGER crash_hours_effects_delete ON operator_effects;
            DROP FUNCTION crash_hours_recompute_instances, crash_hours_recompute, crash_hours_instances_insert,
                          crash_hours_instances_update, crash_hours_instances_delete, crash_hours_effects_insert,
                          crash_hours_effects_delete;
            """)
        try Self.applyCentralMigration(pg, "0003_crash_hours.sql")
        #expect(try pg.count("SELECT count(*) FROM crash_hours") > 0)
        try Self.expectCrashHoursExact(pg, "after 0003 filled the rollup from rows already central")
        // The same for 0005.
        _ = try pg.psql("""
            DROP TABLE crash_spans;
            DROP TRIGGER crash_spans_instances_insert ON instances; DROP TRIGGER crash_spans_instances_update ON instances;
            DROP TRIGGER crash_spans_instances_delete ON instances; DROP TRIGGER crash_spans_effects_insert ON operator_effects;
            DROP TRIGGER crash_spans_effects_delete ON operator_effects;
            DROP FUNCTION crash_spans_instances_insert, crash_spans_instances_update, crash_spans_instances_delete,
                          crash_spans_effects_change, crash_spans_recompute, crash_spans_roll_up, crash_spans_add, crash_spans_union,
                          crash_spans_floor;
            DROP AGGREGATE crash_spans_cat(anycompatiblearray);
            """)
        try Self.applyCentralMigration(pg, "0005_crash_spans.sql")
        #expect(try pg.count("SELECT count(DISTINCT span_ms) FROM crash_spans") == 3)
        try Self.expectCrashHoursExact(pg, "after 0005 filled crash_spans from rows already central")
        print("fleet crash_hours: \(rollupRows) rollup rows per host, \(compared) summary rows compared")
    }
}
