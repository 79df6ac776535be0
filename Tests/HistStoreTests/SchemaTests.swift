import Foundation
import GRDB
import HistModel
import Testing
@testable import HistStore

@Suite struct SchemaTests {
    /// The plan lines of `sql`.
    func plan(_ db: DatabaseQueue, _ sql: String, _ args: StatementArguments = []) throws -> [String] {
        try db.read { try Row.fetchAll($0, sql: "EXPLAIN QUERY PLAN " + sql, arguments: args).map { $0["detail"] as String } }
    }

    /// Full scans of the big tables, under their names or the aliases the views use.
    func fullScans(_ lines: [String]) -> [String] {
        let big = ["events", "snapshots", "instances", "sweeps", "e", "s", "i", "w", "r", "c", "cw", "ps", "q"]
        return lines.filter { line in big.contains { line == "SCAN \($0)" || line.hasPrefix("SCAN \($0) ") } }
    }

    @Test func reportQueriesUseIndexesNotFullScans() throws {
        let dir = TempDir()
        let (store, _) = try makeStore(dir)
        store.close()
        let r = try reader(dir.file("h.db"))
        let queries: [(String, StatementArguments)] = [
            // events of kind K since T
            ("SELECT * FROM events WHERE kind = ? AND ts >= ?", [3, T0]),
            ("SELECT program_id, count(*) FROM events WHERE kind = ? AND ts >= ? GROUP BY program_id", [3, T0]),
            // instances of program P since T
            ("SELECT * FROM instances WHERE program_id = (SELECT id FROM programs WHERE name = ?) AND started_at >= ?", ["web", T0]),
            // snapshots of instance I between T1 and T2
            ("SELECT snapshots.* FROM sweeps JOIN snapshots ON snapshots.sweep_id = sweeps.id WHERE snapshots.instance_id = ? AND sweeps.ts BETWEEN ? AND ?", [1, T0, T0 + 1000]),
            // the merged timeline: by kind ranges (events has no ts-only index)
            ("SELECT * FROM events WHERE kind IN (SELECT id FROM event_kinds) AND ts BETWEEN ? AND ?", [T0, T0 + 1000]),
            ("SELECT * FROM event_log WHERE ts BETWEEN ? AND ? ORDER BY ts", [T0, T0 + 1000]),
            // the views, filtered the documented way
            ("SELECT * FROM event_log WHERE ts >= ?", [T0]),
            ("SELECT * FROM event_log WHERE kind = 'crash' AND ts >= ?", [T0]),
            ("SELECT * FROM crashes WHERE ts >= ?", [T0]),
            ("SELECT * FROM process_lifetimes WHERE program = ? AND started_at >= ?", ["web", T0]),
            ("SELECT * FROM snapshots_with_rates WHERE instance_id = ? AND ts BETWEEN ? AND ?", [1, T0, T0 + 1000]),
            ("SELECT * FROM snapshots_with_rates WHERE ts BETWEEN ? AND ?", [T0, T0 + 1000]),
            ("SELECT * FROM limit_breaches WHERE ts >= ?", [T0]),
            ("SELECT * FROM recording_gaps WHERE ts >= ?", [T0]),
            ("SELECT * FROM scale_events WHERE ts >= ?", [T0]),
            ("SELECT * FROM sweeps WHERE ts BETWEEN ? AND ? ", [T0, T0 + 1]),
        ]
        for (sql, args) in queries {
            let lines = try plan(r, sql, args)
            #expect(!lines.isEmpty)
            #expect(fullScans(lines).isEmpty, "full scan in plan of \(sql): \(lines)")
        }
        // Index-only paths the reports rely on (histctl crashes --summary, loops): no table row is read.
        let covering: [(String, StatementArguments, String)] = [
            // crashes and limit kills per program since T (the partial index holds only those)
            ("""
             SELECT p.id, count(*), max(i.uptime_ms), group_concat(DISTINCT i.exit_code), group_concat(DISTINCT i.signal)
             FROM programs p CROSS JOIN instances i INDEXED BY instances_crashes ON i.program_id = p.id
             WHERE i.class IN ('crash', 'limit') AND i.ended_at >= ? GROUP BY p.id
             """, [T0], "COVERING INDEX instances_crashes (program_id=? AND ended_at>?)"),
            // the longest restart delay per program since T
            ("SELECT program_id, max(value) FROM events WHERE kind = 4 AND ts >= ? GROUP BY program_id", [T0],
             "COVERING INDEX events_kind_ts (kind=? AND ts>?)"),
        ]
        for (sql, args, expected) in covering {
            let lines = try plan(r, sql, args)
            #expect(lines.contains { $0.contains(expected) }, "expected \(expected) in plan of \(sql): \(lines)")
            #expect(fullScans(lines).isEmpty, "full scan in plan of \(sql): \(lines)")
        }
        // The check itself works: an unindexed filter is caught.
        #expect(!fullScans(try plan(r, "SELECT * FROM events WHERE value = 1")).isEmpty)
    }

    @Test func everyViewIsQueryableAndIsoTimesAreUTCWithMilliseconds() throws {
        let dir = TempDir()
        let (store, _) = try makeStore(dir)
        store.close()
        let r = try reader(dir.file("h.db"))
        let views = try r.read { try String.fetchAll($0, sql: "SELECT name FROM sqlite_master WHERE type = 'view' ORDER BY name") }
        #expect(Set(views) == ["crashes", "event_log", "limit_breaches", "orphan_intervals", "process_lifetimes",
                               "operator_actions", "program_states", "recording_gaps", "scale_events", "snapshots_with_rates",
                               "swept_processes", "zombie_parent_intervals", "reload_log", "config_history", "storage_outages",
                               // program_current's definition (0016): the rollup's rows, ids and ms, not a view for people
                               "program_current_source"])
        for v in views { _ = try r.read { try Row.fetchAll($0, sql: "SELECT * FROM \(v) LIMIT 1") } }
        let start = try r.read { try Row.fetchOne($0, sql: "SELECT time, kind FROM event_log") }
        #expect(start?["time"] as String? == "2026-01-01T00:00:00.000Z")
        #expect(start?["kind"] as String? == "supervisor_start")
    }

    /// The example queries of docs/SCHEMA.md run against a populated database and return what they promise.
    @Test func schemaDocExamplesRun() throws {
        let docPath = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("docs/SCHEMA.md").path
        let doc = try String(contentsOfFile: docPath, encoding: .utf8)
        let section = try #require(doc.range(of: "## Example queries")).upperBound
        var examples: [String] = []
        var rest = doc[section...]
        while let open = rest.range(of: "```sql\n"), let close = rest[open.upperBound...].range(of: "```") {
            examples.append(String(rest[open.upperBound..<close.lowerBound]))
            rest = rest[close.upperBound...]
        }
        #expect(examples.count == 3)

        let dir = TempDir()
        let (store, _) = try makeStore(dir)
        let w = store.startWriter()
        let now = Timestamp.now().milliseconds
        let a = InstanceInfo(id: 1, program: "web", identity: ProcessIdentity(pid: 50, startTicks: 1), startedAt: Timestamp(milliseconds: now - 60_000))
        w.record(HistEvent(time: a.startedAt, program: "web", payload: .started(a)))
        w.record(HistEvent(time: Timestamp(milliseconds: now - 30_000), program: "web", payload: .ended(InstanceEnd(
            instance: a, endedAt: Timestamp(milliseconds: now - 30_000), status: .signaled(signal: 11, coreDumped: false),
            classification: .crash, uptime: .seconds(30), stderrTail: "oops"))))
        w.record(HistEvent(time: Timestamp(milliseconds: now - 29_000), program: "web",
                           payload: .restartScheduled(instance: a, delay: .seconds(2), attempt: 1, workerIndex: nil)))
        let b = InstanceInfo(id: 2, program: "web", identity: ProcessIdentity(pid: 51, startTicks: 2), startedAt: Timestamp(milliseconds: now - 27_000))
        w.record(HistEvent(time: b.startedAt, program: "web", payload: .started(b)))
        for (k, t) in [Int64(-20_000), -10_000].enumerated() {
            w.record(SnapshotSweep(time: Timestamp(milliseconds: now + t), samples: [
                InstanceSample(instance: 2, state: "R", utimeTicks: UInt64(k * 500), stimeTicks: 0, rssBytes: UInt64(k + 1) << 20,
                               vszBytes: 1 << 30, threads: 2, fds: 5, processes: 1),
            ]))
        }
        #expect(w.flush(timeout: .seconds(10)))
        let r = try reader(dir.file("h.db"))
        var results: [[Row]] = []
        for sql in examples {
            results.append(try r.read { try Row.fetchAll($0, sql: sql) })
        }
        // 1: crashes per program in the last day.
        #expect(results[0].count == 1)
        #expect(results[0].first?["program"] as String? == "web")
        #expect(results[0].first?["crashes"] as Int64? == 1)
        // 2: the last crash with its signal, restart delay and stderr.
        #expect(results[1].first?["signal_name"] as String? == "SIGSEGV")
        #expect(results[1].first?["restart_delay_s"] as Double? == 2.0)
        #expect(results[1].first?["stderr_tail"] as String? == "oops")
        // 3: the busiest processes (peak CPU%) in the last hour.
        #expect(results[2].first?["pid"] as Int64? == 51)
        #expect(results[2].first?["peak_cpu_percent"] as Double? == 50.0)
        store.close()
    }
}
