import Foundation
import GRDB
import HistModel
import HistStore
import HistTestSupport
import Testing

extension EndToEnd.FleetShip {
    static let loopHoursColumns = ["host_id", "db_epoch", "hour", "program_id", "worker", "members", "first_ms", "last_ms", "longest_uptime_ms"]
    static let loopSpansColumns = ["span_ms", "start_ms", "host_id", "db_epoch", "program_id", "worker", "members", "first_ms", "last_ms", "longest_uptime_ms"]
    static let programHoursColumns = ["host_id", "db_epoch", "program_id", "hour", "starts", "restarts", "gave_ups", "max_restart_delay_ms"]

    /// loop_hours (migrations/postgres/0004_loop_hours.sql) and loop_spans (0006_loop_spans.sql) defined from
    /// the raw central rows: every crash's membership over its program's whole history, in one pass of window
    /// functions, grouped per `bucket` of the crash time (expressions of ts and of the span length s.span_ms,
    /// one row per length in `lengths`, with their column names).
    static let loopHoursDefinition = loopRollupDefinition(bucket: [("ts - ts % 3600000", "hour")], lengths: "(VALUES (3600000::bigint))")
    static let loopSpansDefinition = loopRollupDefinition(bucket: [("s.span_ms", "span_ms"), ("ts - ts % s.span_ms", "start_ms")],
                                                          lengths: "(VALUES (600000::bigint), (21600000))")
    static func loopRollupDefinition(bucket: [(expression: String, name: String)], lengths: String) -> String { """
        (WITH c AS (
             SELECT i.host_id, i.db_epoch, i.program_id, i.ended_at AS ts, coalesce(i.worker_index, -1) AS worker, i.uptime_ms
             FROM instances i
             WHERE i.class IN ('crash', 'limit') AND i.ended_at IS NOT NULL
               AND NOT EXISTS (SELECT 1 FROM operator_effects f WHERE f.host_id = i.host_id AND f.db_epoch = i.db_epoch
                                                                  AND f.instance_id = i.id AND f.effect = 'ended')
             UNION ALL
             SELECT e.host_id, e.db_epoch, e.program_id, e.ts,
                    CASE WHEN e.detail LIKE '{%' THEN coalesce((e.detail::jsonb ->> 'worker_index')::bigint, -1) ELSE -1 END, NULL
             FROM events e WHERE e.kind = 9 AND e.program_id IS NOT NULL),
         m AS (SELECT c.*, lag(ts, 2) OVER w AS b2, lag(ts, 1) OVER w AS b1, lead(ts, 1) OVER w AS a1, lead(ts, 2) OVER w AS a2
               FROM c WINDOW w AS (PARTITION BY host_id, db_epoch, program_id ORDER BY ts))
         SELECT host_id, db_epoch, \(bucket.map { "\($0.expression) AS \($0.name)" }.joined(separator: ", ")), program_id, worker, count(*) AS members, min(ts) AS first_ms,
                max(ts) AS last_ms, max(uptime_ms) AS longest_uptime_ms
         FROM m CROSS JOIN \(lengths) AS s(span_ms)
         WHERE coalesce(a2 - ts <= 600000 OR a1 - b1 <= 600000 OR ts - b2 <= 600000, false)
         GROUP BY host_id, db_epoch, \(bucket.map(\.expression).joined(separator: ", ")), program_id, worker) d
        """ }
    static let programHoursDefinition = """
        (SELECT e.host_id, e.db_epoch, e.program_id, e.ts - e.ts % 3600000 AS hour, count(*) FILTER (WHERE e.kind = 1) AS starts,
                count(*) FILTER (WHERE e.kind = 4) AS restarts, count(*) FILTER (WHERE e.kind = 5) AS gave_ups,
                max(e.value) FILTER (WHERE e.kind = 4) AS max_restart_delay_ms
         FROM events e WHERE e.kind IN (1, 4, 5) AND e.program_id IS NOT NULL GROUP BY 1, 2, 3, 4) d
        """

    /// The three rollups the triggers keep equal their definitions over the raw rows, row for row.
    static func expectLoopRollupsExact(_ pg: PostgresCluster, _ what: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        try expectRollupExact(pg, what, table: "loop_hours", columns: loopHoursColumns, definition: loopHoursDefinition,
                              sourceLocation: sourceLocation)
        try expectRollupExact(pg, what, table: "loop_spans", columns: loopSpansColumns, definition: loopSpansDefinition,
                              sourceLocation: sourceLocation)
        try expectRollupExact(pg, what, table: "program_hours", columns: programHoursColumns, definition: programHoursDefinition,
                              sourceLocation: sourceLocation)
    }

    /// A history of several hours (generated, 6 programs with a pool; the crashy ones loop, the others
    /// crash minutes apart, in and out of loops) shipped in small batches: central loop_hours and
    /// program_hours equal the host's local rollups row for row, and (with gave_up events added) fleet
    /// `loops` equals the local report for ranges read from 6-hour spans, hours, 10-minute spans and raw
    /// edges, and for a window the rollups are not kept for; a tampered span of each length shows in the
    /// answer. Then every way the rollups can change centrally, each followed by the exactness check:
    /// a crash arriving late between shipped ones, spawn failures, corrections, moves, operator effects,
    /// deletions, a bulk copy of the host, and the fill of an upgrade.
    @Test(.enabled(if: PostgresCluster.available, "PostgreSQL 15 is not installed (/usr/lib/postgresql/15/bin)"))
    func loopRollupsAreExactAndFleetLoopsReadsWholeHoursFromThem() throws {
        let ws = try Workspace("fleet-loop-hours")
        let pg = try PostgresCluster()
        defer { ws.cleanup(); pg.remove() }
        // Small batches: many statements, each adding a few crashes next to shipped ones (the incremental path).
        let (path, end) = try Self.shipGeneratedHistory(ws, pg, seed: 9, batch: 300)

        try Self.expectCentralRollupEqualsLocal(pg, localPath: path, table: "loop_hours", columns: Array(Self.loopHoursColumns.dropFirst(2)),
                                                minimum: 6 * 3)
        try Self.expectCentralRollupEqualsLocal(pg, localPath: path, table: "program_hours",
                                                columns: Array(Self.programHoursColumns.dropFirst(2)), minimum: 6 * 3)
        try Self.expectLoopRollupsExact(pg, "after shipping")

        // Ranges: whole hours and 10-minute spans with partial edges, exactly whole hours, too short for any
        // whole span, one span and no whole hour, spans on both sides of whole hours, one program, and a
        // window and count the rollups are not kept for (all raw).
        let hour: Int64 = 3_600_000
        let base = end.milliseconds - end.milliseconds % hour
        let block = end.milliseconds - end.milliseconds % (6 * hour)
        let ranges: [(since: Int64, until: Int64, extra: [String])] = [
            (base - 5 * hour + 123_456, end.milliseconds - 17_000, []),
            (base - 5 * hour, base - hour, []),
            (base - 3 * hour - 600_000, base - hour + 600_000, []),
            (base - 2 * hour + 60_000, base - 2 * hour + 1_800_000, []),
            (base - 2 * hour + 60_000, base - 2 * hour + 3_000_000, []),
            (base - 2 * hour - 1_200_000, base + 600_000, []),
            // A whole 6-hour span (the history's first hours are in it), then hours, 10-minute spans and raw
            // minutes at both edges.
            (block - 9 * hour - 1_234_567, end.milliseconds + 3 * hour, []),
            (base - 5 * hour + 1, end.milliseconds, ["--program", "prog-003"]),
            (base - 5 * hour + 1, end.milliseconds, ["--program", "pool-002"]),
            (base - 5 * hour + 1, end.milliseconds, ["--window", "30m", "--min-crashes", "4"]),
        ]
        // gave_up events (the generator writes none), recorded locally and shipped: in a whole hour of most
        // ranges, in the partial first hour of the first, just before its until, exactly at the third's until
        // (not counted there), and in the one-span range; one program has none.
        let gaveUps: [(program: Int, at: Int64)] = [(0, base - 3 * hour + 1_234), (1, base - 5 * hour + 200_000),
                                                    (2, end.milliseconds - 20_000), (3, base - hour + 600_000),
                                                    (5, base - 2 * hour + 1_000_000)]
        let local = try DatabaseQueue(path: path)
        try local.write { db in
            let programs = try Int64.fetchAll(db, sql: "SELECT id FROM programs ORDER BY id")
            let run = try Int64.fetchOne(db, sql: "SELECT max(id) FROM runs")
            for g in gaveUps {
                try db.execute(sql: "INSERT INTO events (ts, kind, run_id, program_id) VALUES (?, 5, ?, ?)",
                               arguments: [g.at, run, programs[g.program]])
            }
        }
        try local.close()
        let reshipped = try Self.shipOnce(ws, pg, host: "h1")
        #expect(reshipped.status == 0, "histd-ship failed: \(reshipped.stderr)")
        #expect(try pg.count("SELECT count(*) FROM events WHERE host_id = 'h1' AND kind = 5") == gaveUps.count)
        try Self.expectLoopRollupsExact(pg, "after the gave_up events")

        func iso(_ ms: Int64) -> String { Self.iso(Date(timeIntervalSince1970: Double(ms) / 1000)) }
        func without(_ rows: [NSDictionary], _ key: String) -> [NSDictionary] {
            rows.map { d in let m = d.mutableCopy() as! NSMutableDictionary; m.removeObject(forKey: key); return m as NSDictionary }
        }
        var compared = 0, pooled = 0, gaveUp = 0
        for r in ranges {
            let args = ["loops", "--since", iso(r.since), "--until", iso(r.until), "--format", "json"] + r.extra
            // state: the fleet status state, not the local program_states view (docs/FLEET.md).
            let l = without(try Self.json(try Self.histctl(args + ["--db", path])), "state")
            let f = without(try Self.json(try Self.histctl(args + ["--db", pg.url, "--host", "h1"]), dropHost: true), "state")
            #expect(!l.isEmpty, "no loops locally in \(args)")
            #expect(l == f, "fleet loops differs from local for \(args):\nlocal \(l)\nfleet \(f)")
            compared += l.count
            pooled += l.filter { $0["workers"] is String }.count
            gaveUp += l.filter { ($0["gave_up"] as? Bool) == true }.count
        }
        #expect(compared > 10 && pooled > 0, "\(compared) loop rows compared, \(pooled) with workers")
        #expect(gaveUp > 5 && gaveUp < compared - 5, "\(gaveUp) of \(compared) loop rows gave up: the events should tell some apart")

        func crash(_ offset: Int) throws -> CentralCrash { try Self.centralCrash(pg, offset) }
        // The first crashes by id, in the first hour of the history, for the changes below.
        let quiet = try crash(0), a = try crash(1), b = try crash(2), c = try crash(3), d = try crash(4)
        let changes: [(what: String, sql: String)] = [
            ("every instance updated to the same state", "UPDATE instances SET seq = seq WHERE host_id = 'h1'"),
            ("two crashes arrived late, between shipped ones", """
             INSERT INTO instances (host_id, db_epoch, seq, id, run_id, program_id, worker_index, pid, start_ticks, started_at,
                                    ended_at, exit_code, signal, core_dumped, class, uptime_ms)
             SELECT host_id, db_epoch, 0, 900000 + g, run_id, program_id, worker_index, 1, g, ended_at + g * 1000 - 5000,
                    ended_at + g * 1000, 1, NULL, 0, 'crash', 5000
             FROM instances, generate_series(1, 2) g WHERE host_id = 'h1' AND id = \(quiet.id)
             """),
            ("spawn failures in two statements", """
             INSERT INTO events (host_id, db_epoch, seq, id, ts, kind, run_id, program_id, detail)
             SELECT host_id, db_epoch, 0, 900000 + g, ended_at + 90000 * g, 9, run_id, program_id, '{"worker_index":1}'
             FROM instances, generate_series(1, 3) g WHERE host_id = 'h1' AND id = \(a.id);
             INSERT INTO events (host_id, db_epoch, seq, id, ts, kind, run_id, program_id, detail)
             SELECT host_id, db_epoch, 0, 900010, ended_at - 1000, 9, run_id, program_id, 'not json'
             FROM instances WHERE host_id = 'h1' AND id = \(b.id)
             """),
        ] + Self.crashChanges(corrected: a, moved: b, reopened: c, endedByOperator: d, deleted: quiet) + [
            ("a spawn failure deleted and restart events deleted and moved", """
             DELETE FROM events WHERE host_id = 'h1' AND kind = 9 AND id = 900002;
             DELETE FROM events WHERE host_id = 'h1' AND kind = 4 AND id % 5 = 0;
             UPDATE events SET ts = ts + 700000 WHERE host_id = 'h1' AND kind IN (1, 4, 9) AND id % 7 = 0
             """),
            ("one INSERT ... SELECT per table copied the host", """
             INSERT INTO events SELECT 'h2', db_epoch, seq, id, ts, kind, run_id, program_id, instance_id, value, detail
             FROM events WHERE host_id = 'h1';
             INSERT INTO instances SELECT 'h2', db_epoch, seq, id, run_id, program_id, worker_index, pid, start_ticks,
                 started_at, ended_at, exit_code, signal, core_dumped, class, uptime_ms, stderr_tail, restart_delay_ms
             FROM instances WHERE host_id = 'h1'
             """),
            ("one UPDATE moved every seventh instance", "UPDATE instances SET ended_at = ended_at + 1 WHERE host_id = 'h2' AND id % 7 = 0"),
        ]
        for change in changes {
            _ = try pg.psql(change.sql)
            try Self.expectLoopRollupsExact(pg, "after \(change.what)")
        }
        #expect(try pg.count("SELECT count(*) FROM loop_hours WHERE host_id = 'h2'") > 0)

        // A rollup row gone wrong (by hand) is found, and fleet_rollups_recompute puts the range right.
        _ = try pg.psql("UPDATE loop_hours SET members = members + 1 WHERE hour = (SELECT min(hour) FROM loop_hours)")
        let wrong = try pg.records(Self.lines("loop_hours", Self.loopHoursColumns)).sorted()
        #expect(wrong != (try pg.records(Self.lines(Self.loopHoursDefinition, Self.loopHoursColumns)).sorted()), "the check should see a wrong row")
        // fleet loops reads the 10-minute spans: a member added by hand to the spans of a range's partial
        // hours shows in its answer (and the recompute takes it away again).
        let spansOnly = ["loops", "--since", iso(base - 2 * hour + 60_000), "--until", iso(base - 2 * hour + 3_000_000),
                         "--host", "h1", "--db", pg.url, "--format", "json"]
        let honest = try Self.json(try Self.histctl(spansOnly))
        _ = try pg.psql("""
            UPDATE loop_spans SET members = members + 1000
            WHERE span_ms = 600000 AND host_id = 'h1' AND start_ms >= \(base - 2 * hour + 1_200_000) AND start_ms < \(base - 2 * hour + 2_400_000)
            """)
        let tampered = try Self.json(try Self.histctl(spansOnly))
        #expect(!honest.isEmpty && honest != tampered, "fleet loops should read loop_spans: \(honest) vs \(tampered)")
        // And its 6-hour spans.
        let withSix = ["loops", "--since", iso(block - 9 * hour - 1_234_567), "--until", iso(end.milliseconds + 3 * hour),
                       "--host", "h1", "--db", pg.url, "--format", "json"]
        let honestSix = try Self.json(try Self.histctl(withSix))
        _ = try pg.psql("UPDATE loop_spans SET members = members + 1000 WHERE span_ms = 21600000 AND host_id = 'h1' AND start_ms = \(block - 6 * hour)")
        let tamperedSix = try Self.json(try Self.histctl(withSix))
        #expect(!honestSix.isEmpty && honestSix != tamperedSix, "fleet loops should read 6-hour loop_spans: \(honestSix) vs \(tamperedSix)")
        _ = try pg.psql("SELECT fleet_rollups_recompute(\(block - 12 * hour), \(base + 2 * hour))")
        try Self.expectLoopRollupsExact(pg, "after fleet_rollups_recompute")

        // 0004 and then 0006 on a central database that already holds rows (an upgrade): their fills equal
        // the definitions too.
        _ = try pg.psql("""
            DROP TRIGGER loop_hours_instances_insert ON instances; DROP TRIGGER loop_hours_instances_update ON instances;
            DROP TRIGGER loop_hours_instances_delete ON instances; DROP TRIGGER loop_hours_effects_insert ON operator_effects;
            DROP TRIGGER loop_hours_effects_delete ON operator_effects; DROP TRIGGER loop_hours_events_insert ON events;
            DROP TRIGGER loop_hours_events_update ON events; DROP TRIGGER loop_hours_events_delete ON events;
            DROP TABLE loop_hours, program_hours, loop_spans;
            DROP INDEX instances_program_crashes;
            DROP FUNCTION loop_hours_instances_insert, loop_hours_instances_update, loop_hours_instances_delete,
                          loop_hours_effects_change, loop_hours_events_insert, loop_hours_events_change, fleet_rollups_recompute,
                          loop_hours_recompute_near, loop_hours_near, loop_hours_recompute, program_hours_recompute,
                          loop_hours_add, loop_neighbours, loop_crashes, loop_worker;
            """)
        // A central database without 0004: fleet loops says how to bring it up to date.
        let old = try Self.histctl(["loops", "--db", pg.url, "--since", "1d"])
        #expect(old.status != 0 && old.stderr.contains("histctl fleet migrate"), "loops on a schema without 0004: \(old.status) \(old.stderr)")
        try Self.applyCentralMigration(pg, "0004_loop_hours.sql")
        let older = try Self.histctl(["loops", "--db", pg.url, "--since", "1d"])
        #expect(older.status != 0 && older.stderr.contains("histctl fleet migrate"), "loops on a schema without 0006: \(older.status) \(older.stderr)")
        try Self.applyCentralMigration(pg, "0006_loop_spans.sql")
        try Self.expectLoopRollupsExact(pg, "after 0004 and 0006 filled the rollups from rows already central")
        print("fleet loop_hours: \(compared) loop rows compared (\(pooled) pooled, \(gaveUp) gave up)")
    }
}
