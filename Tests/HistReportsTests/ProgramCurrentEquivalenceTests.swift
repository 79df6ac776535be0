import Foundation
import GRDB
import HistModel
import HistStore
import HistTestSupport
import Testing
@testable import HistReports

// Serialized with the other randomized suites (RandomizedHistories).
extension RandomizedHistories {
/// The program_current rollup (migrations/0016_program_current.sql) is exact: on randomized histories
/// written by the real writer over several runs (crashes, clean exits, stops, limit kills, give-ups, spawn
/// failures, stop requests, a pool, instances whose start was never recorded, runs left open, events out of
/// time order, retention while the writer runs and between runs), the table equals its definition (the
/// view program_current_source) after every step, and `histctl status` from it equals status from raw rows:
/// the same answer as status on a copy as it was before 0016 (0016's stand-in, and program_states as
/// migrations/0007_rollups.sql defined it), and as the columns computed from that 0007 view.
@Suite struct ProgramCurrentEquivalenceTests {
    static let t0: Int64 = 1_764_547_200_000 // 2025-12-01T00:00:00Z

    /// program_states as migration 0007 created it (0016 recreates it from program_current).
    static func view0007() throws -> String {
        let migration = try #require(BundledSQL.migrations.first { $0.name.hasPrefix("0007_") }?.sql)
        let head = "CREATE VIEW program_states AS"
        let start = try #require(migration.range(of: head))
        return String(migration[start.upperBound...]).trimmingCharacters(in: .whitespacesAndNewlines.union(CharacterSet(charactersIn: ";")))
    }

    /// status's columns before 0016, from 0007's program_states and per-program lookups (restarts_1h is
    /// RestartRollupEquivalenceTests' subject, and the freshness columns do not depend on the rollup).
    static func rawSQL() throws -> String { """
        WITH s AS (\(try view0007()))
        SELECT s.program,
               CASE WHEN s.state = 'stopped' AND x.id = s.instance_id AND
                         (SELECT e.kind FROM events e WHERE e.kind IN (4, 5, 9) AND e.ts >= x.ended_at
                             AND e.program_id = s.program_id ORDER BY e.ts DESC, e.id DESC LIMIT 1) = 5
                    THEN 'failed' ELSE s.state END,
               CASE WHEN s.program_kind = 'program' AND s.state IN ('running', 'stopping') THEN s.pid END,
               CASE WHEN s.program_kind = 'pool' THEN s.open_instances END,
               x.ended_at, x.exit_code, x.signal, x.class
        FROM program_states s
        LEFT JOIN instances x ON x.id = (SELECT i.id FROM instances i WHERE i.program_id = s.program_id AND i.ended_at IS NOT NULL
                                           ORDER BY i.started_at DESC, i.id DESC LIMIT 1)
        ORDER BY s.program
        """
    }
    static let statusColumns = ["program", "state", "pid", "workers", "last_exit_at", "last_exit_code", "last_signal", "last_exit_class"]

    /// A random history of `cycles` lifetimes per program and pool worker from `from`, as the engine would
    /// report them, sorted by time with some neighbours swapped. The last lifetime of each is sometimes left
    /// open (still running, or asked to stop); three programs end the same way every time, so that every
    /// state status derives is reached: web is asked to stop and still running, batch exits cleanly with no
    /// restart scheduled, cron is given up on.
    static func history(_ rng: inout SeededGenerator, from: Int64, cycles: Int, nextID: inout InstanceID) -> [HistEvent] {
        let programs: [(name: String, workers: Int?)] = [("web", nil), ("batch", nil), ("jobs", 2), ("cron", nil), ("flaky", nil)]
        var out: [HistEvent] = []
        for p in programs {
            for w in 0..<(p.workers ?? 1) {
                let worker = p.workers == nil ? nil : w
                var t = from + Int64.random(in: 0...30_000, using: &rng)
                for cycle in 0..<cycles {
                    let last = cycle == cycles - 1
                    if !last && Int.random(in: 0..<12, using: &rng) == 0 {
                        // A spawn failure: no instance at all.
                        out.append(HistEvent(time: Timestamp(milliseconds: t), program: p.name,
                                             payload: .spawnFailed(errno: 2, step: "exec", reason: "no such file", workerIndex: worker)))
                        t += Int64.random(in: 100...20_000, using: &rng)
                        continue
                    }
                    nextID += 1
                    let info = InstanceInfo(id: nextID, program: p.name, workerIndex: worker,
                                            identity: ProcessIdentity(pid: Int32.random(in: 100...30_000, using: &rng), startTicks: UInt64(nextID)),
                                            startedAt: Timestamp(milliseconds: t))
                    if Int.random(in: 0..<10, using: &rng) != 0 {
                        out.append(HistEvent(time: Timestamp(milliseconds: t), program: p.name, payload: .started(info)))
                    }
                    let endAt = t + Int64.random(in: 0...40_000, using: &rng)
                    let stopAsked = (last && p.name == "web") || Int.random(in: 0..<4, using: &rng) == 0
                    if stopAsked {
                        // Now and then before the start it names (a clock step): it does not count.
                        let at = (last && p.name == "web") || Bool.random(using: &rng) ? endAt - Int64.random(in: 0...50, using: &rng) : t - Int64.random(in: 1...500, using: &rng)
                        out.append(HistEvent(time: Timestamp(milliseconds: at), program: p.name,
                                             payload: .stopRequested(instance: info, reason: .operator, signal: 15)))
                    }
                    if last && (p.name == "web" || (p.name != "batch" && p.name != "cron" && Int.random(in: 0..<3, using: &rng) != 0)) {
                        break // still running
                    }
                    let classes: [ExitClassification] = [.crash, .crash, .clean, .stopped, .killed, .limit]
                    let cls = last && p.name == "batch" ? .clean : stopAsked ? .stopped : classes.randomElement(using: &rng)!
                    out.append(HistEvent(time: Timestamp(milliseconds: endAt), program: p.name, payload: .ended(InstanceEnd(
                        instance: info, endedAt: Timestamp(milliseconds: endAt), status: .exited(code: cls == .clean ? 0 : 1),
                        classification: cls, uptime: .milliseconds(endAt - t), stderrTail: "x"))))
                    let after = endAt + Int64.random(in: 0...50, using: &rng)
                    switch last && p.name == "cron" ? 0 : last && p.name == "batch" ? 1 : Int.random(in: 0..<10, using: &rng) {
                    case 0:
                        out.append(HistEvent(time: Timestamp(milliseconds: after), program: p.name,
                                             payload: .gaveUp(instance: info, restarts: 3, workerIndex: worker)))
                        t = after + Int64.random(in: 60_000...600_000, using: &rng)
                    case 1:
                        t = after + Int64.random(in: 0...5_000, using: &rng) // restarted at once, nothing scheduled
                    default:
                        let delay = Int64.random(in: 0...30_000, using: &rng)
                        out.append(HistEvent(time: Timestamp(milliseconds: after), program: p.name,
                                             payload: .restartScheduled(instance: info, delay: .milliseconds(delay), attempt: 1, workerIndex: worker)))
                        t = after + delay
                    }
                }
            }
        }
        out.sort { $0.time.milliseconds < $1.time.milliseconds }
        for _ in 0..<(out.count / 15) where out.count > 1 {
            let i = Int.random(in: 0..<(out.count - 1), using: &rng)
            out.swapAt(i, i + 1)
        }
        return out
    }

    /// The table equals its definition: every program's row, or NULLs (and no stop) where it has none.
    static func checkTable(_ store: HistoryStore, _ label: String) throws {
        let cols = "program_id, inst_id, inst_started_at, inst_stop, ended_id, ended_started_at, mark_ts, mark_id, mark_kind, fail_ts, fail_id, fail_kind"
        let (actual, expected) = try store.withWriteConnection { db -> ([[DatabaseValue]], [[DatabaseValue]]) in
            func rows(_ sql: String) throws -> [[DatabaseValue]] {
                try Row.fetchAll(db, sql: sql).map { r in (0..<12).map { r[$0] as DatabaseValue } }
            }
            let actual = try rows("""
                SELECT p.id, c.inst_id, c.inst_started_at, coalesce(c.inst_stop, 0), c.ended_id, c.ended_started_at, c.mark_ts,
                       c.mark_id, c.mark_kind, c.fail_ts, c.fail_id, c.fail_kind
                FROM programs p LEFT JOIN program_current c ON c.program_id = p.id ORDER BY p.id
                """)
            return (actual, try rows("SELECT \(cols) FROM program_current_source ORDER BY program_id"))
        }
        #expect(actual.count == expected.count && actual.count >= 5, "\(label): \(actual.count) programs")
        for (a, e) in zip(actual, expected) where a != e {
            Issue.record("\(label): program_current differs from its definition (\(cols)):\n  table \(a)\n  view  \(e)")
        }
    }

    /// status from the table equals status from the stand-in (a copy without 0016) and from raw rows.
    static func checkStatus(path: String, now: Int64, _ label: String, seen: inout Set<String>) throws {
        let copy = path + ".before-0016"
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: copy + suffix) }
        // A consistent copy while the store may still be open (SQLite's backup API), then 0016 taken out of it.
        let source = try DatabaseQueue(path: path), old = try DatabaseQueue(path: copy)
        try source.backup(to: old)
        try source.close()
        try old.write { db in
            for name in try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'program_current%'") {
                try db.execute(sql: "DROP TRIGGER \(name)")
            }
            try db.execute(sql: "DROP VIEW program_current_source")
            try db.execute(sql: "DROP VIEW program_states")
            try db.execute(sql: "CREATE VIEW program_states AS \(try Self.view0007())")
            try db.execute(sql: "DROP TABLE program_current")
        }
        try old.close()
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: copy + suffix) } }

        let at = Timestamp(milliseconds: now)
        let scope = ReportScope(since: at, until: at, now: at)
        func status(_ p: String) throws -> ReportResult { try Reports.status(try ReportDatabase(path: p), scope, supervisor: .alive) }
        let current = try status(path), standIn = try status(copy)
        #expect(try ReportDatabase(path: copy).schemaNote?.contains("program_current") == true, "\(label): the copy has no stand-in")
        #expect(current.rows == standIn.rows, "\(label): status differs between program_current and its stand-in")
        let picked = current.rows.indices.map { i in statusColumns.map { current.value(i, $0) } }
        let columns = statusColumns.map { name in Reports.statusColumns.first { $0.name == name }! }
        let raw = try ReportDatabase(path: path).run(sql: try rawSQL(), columns: columns, label: "raw")
        // program_states itself, every column, against 0007's (on the copy)
        let viewColumns = "program_id, program, program_kind, open_instances, instance_id, pid, started_at, ended_at, class, run_id, state"
        let now0016 = try ReportDatabase(path: path).run(sql: "SELECT \(viewColumns) FROM program_states ORDER BY program_id", columns: nil, label: "view")
        let was0007 = try ReportDatabase(path: copy).run(sql: "SELECT \(viewColumns) FROM program_states ORDER BY program_id", columns: nil, label: "view")
        #expect(now0016.rows == was0007.rows, "\(label): program_states differs from 0007's")
        #expect(picked == raw.rows, "\(label): status differs from program_states")
        for i in current.rows.indices { if case .text(let s) = current.value(i, "state") { seen.insert(s) } }
    }

    @Test(arguments: [1, 2, 3, 4] as [UInt64])
    func rollupMatchesRawRows(seed: UInt64) throws {
        var rng = SeededGenerator(seed: seed)
        let dir = SampleHistory.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/current.db"
        var nextID: InstanceID = 0
        var from = Self.t0
        var seen: Set<String> = []
        for run in 0..<3 {
            let label = "seed \(seed), run \(run)"
            let store = try HistoryStore.open(path: path)
            _ = try store.beginRun(host: "test", pid: Int32(run + 1), version: "0.1.0", configPath: nil, configHash: nil,
                                   bootID: nil, programs: [], pools: [], at: Timestamp(milliseconds: from))
            let writer = store.startWriter(options: .init(batchSize: Int.random(in: 1...30, using: &rng)))
            let events = Self.history(&rng, from: from, cycles: 25, nextID: &nextID)
            let half = events.count / 2
            for e in events[..<half] { writer.record(e) }
            #expect(writer.flush(timeout: .seconds(30)))
            try Self.checkTable(store, "\(label), first half")
            // Retention on another connection while the writer runs; in the last run, deep enough to delete
            // some programs' newest rows.
            let mid = events[half].time.milliseconds
            let cutoff = run == 2 ? mid - Int64.random(in: 0...60_000, using: &rng)
                : Self.t0 + Int64.random(in: 0...max(1, mid - Self.t0), using: &rng)
            let now = Timestamp(milliseconds: Self.t0 + 1000 * 3_600_000)
            try store.prune(now: now, retention: .milliseconds(now.milliseconds - cutoff), snapshotRetention: .milliseconds(now.milliseconds - cutoff),
                            batchSize: Int.random(in: 1...300, using: &rng))
            try Self.checkTable(store, "\(label), after retention")
            for e in events[half...] { writer.record(e) }
            #expect(writer.flush(timeout: .seconds(30)))
            let last = events.last!.time.milliseconds
            try Self.checkTable(store, "\(label), second half")
            // The run open (running, stopping, backoff states), then over (stopped, unknown).
            try Self.checkStatus(path: path, now: last + 1, "\(label), open", seen: &seen)
            if run < 2 || Bool.random(using: &rng) { try store.endRun(reason: .clean, at: Timestamp(milliseconds: last + 1)) }
            store.close()
            try Self.checkStatus(path: path, now: last + 2, "\(label), over", seen: &seen)
            from = last + Int64.random(in: 1...7_200_000, using: &rng)
        }
        // The histories reach every state status derives from the rollup.
        for state in ["running", "stopping", "backoff", "failed", "exited", "stopped", "unknown"] {
            #expect(seen.contains(state), "seed \(seed): no program was ever \(state); seen \(seen.sorted())")
        }
    }

    /// Migration 0016 fills the table from its definition: on a fixture (rows written without the writer,
    /// through the triggers) the table equals the view.
    @Test func fixtureFillsTheRollup() throws {
        let dir = SampleHistory.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/fixture.db"
        try HistoryFixture.generate(at: path, size: .small, end: Timestamp(milliseconds: Self.t0))
        let store = try HistoryStore.open(path: path)
        defer { store.close() }
        try Self.checkTable(store, "fixture")
    }
}
}
