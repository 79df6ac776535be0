import Foundation
import GRDB
import HistModel
@testable import HistStore
import HistTestSupport
import Testing
@testable import HistReports

// Serialized with the other randomized suites (RandomizedHistories).
extension RandomizedHistories {
/// `instances.restart_delay_ms` (migrations/0013_restart_delay.sql) is exact: on randomized histories
/// written by the real writer (LoopRollupEquivalenceTests' generator: random transaction sizes, ends out
/// of time order, lost starts, ends recorded twice, operator-caused ends, restarts recorded twice, late,
/// out of their window and with a clock stepped back) with retention pruning in between, the column
/// equals the raw rule (the first restart_scheduled by ts, then id, within 60 s after the end), and
/// `histctl crashes` (all rows and the newest N, and the CSV/JSON bytes of all rows) equals the listing
/// computed from raw rows only.
@Suite struct RestartDelayEquivalenceTests {
    /// The crashes listing as it was before 0013: the restart delay by one events range per crash, and
    /// one ORDER BY over everything.
    static let rawListingSQL = """
        SELECT time, program, pid, exit_code, signal, core_dumped, uptime_s, restart_delay_s, reason, stderr_tail FROM (
            SELECT i.ended_at AS time, p.name AS program, i.pid AS pid, i.exit_code AS exit_code, i.signal AS signal,
                   i.core_dumped AS core_dumped, i.uptime_ms / 1000.0 AS uptime_s,
                   (SELECT r.value FROM events r
                     WHERE r.kind = 4 AND r.ts >= i.ended_at AND r.ts <= i.ended_at + 60000 AND r.instance_id = i.id
                     ORDER BY r.ts, r.id LIMIT 1) / 1000.0 AS restart_delay_s,
                   i.class AS reason, i.stderr_tail AS stderr_tail, 0 AS source, i.id AS seq
            FROM instances i JOIN programs p ON p.id = i.program_id
            WHERE i.class IN ('crash', 'limit') AND i.ended_at >= :since AND i.ended_at < :until
              AND NOT EXISTS (SELECT 1 FROM operator_effects f WHERE f.instance_id = i.id AND f.effect = 'ended')
              AND (json_array_length(:programs) = 0 OR p.name IN (SELECT value FROM json_each(:programs))
                   OR p.name || '.' || i.worker_index IN (SELECT value FROM json_each(:programs)))
            UNION ALL
            SELECT e.ts, p.name, NULL, NULL, NULL, 0, NULL,
                   (SELECT r.value FROM events r
                     WHERE r.kind = 4 AND r.ts >= e.ts AND r.ts <= e.ts + 60000 AND r.program_id = e.program_id AND r.id > e.id
                     ORDER BY r.ts LIMIT 1) / 1000.0,
                   'spawn_failed',
                   json_extract(e.detail, '$.step') || ' failed: ' || json_extract(e.detail, '$.reason') || ' (errno ' || e.value || ')',
                   1, e.id
            FROM events e JOIN programs p ON p.id = e.program_id
            WHERE e.kind = 9 AND e.ts >= :since AND e.ts < :until
              AND (json_array_length(:programs) = 0 OR p.name IN (SELECT value FROM json_each(:programs))
                   OR p.name || '.' || json_extract(e.detail, '$.worker_index') IN (SELECT value FROM json_each(:programs)))
        ) ORDER BY time, source, seq
        """

    /// (instance id, restart_delay_ms) as the raw rule gives it, for every instance.
    static func expected(_ db: Database) throws -> [[Int64?]] {
        try Row.fetchAll(db, sql: """
            SELECT i.id, CASE WHEN i.class IN ('crash', 'limit') AND i.ended_at IS NOT NULL THEN
                (SELECT r.value FROM events r
                  WHERE r.kind = 4 AND r.ts >= i.ended_at AND r.ts <= i.ended_at + 60000 AND r.instance_id = i.id
                  ORDER BY r.ts, r.id LIMIT 1) END
            FROM instances i ORDER BY i.id
            """).map { [$0[0], $0[1]] }
    }

    static func actual(_ db: Database) throws -> [[Int64?]] {
        try Row.fetchAll(db, sql: "SELECT id, restart_delay_ms FROM instances ORDER BY id").map { [$0[0], $0[1]] }
    }

    /// The listing (all rows, and the newest N) against the raw one, for random ranges and filters.
    static func compareListings(path: String, _ rng: inout SeededGenerator, from: Int64, until: Int64) throws -> Int {
        let db = try ReportDatabase(path: path)
        let filters: [[String]] = [[], ["web"], ["jobs"], ["jobs.1"], ["batch", "jobs.0"]]
        var withDelay = 0
        for k in 0..<25 {
            var a = Int64.random(in: from...until, using: &rng), b = Int64.random(in: from...until, using: &rng)
            if k % 3 == 0 { (a, b) = (from, until) }
            let scope = ReportScope(since: Timestamp(milliseconds: min(a, b)), until: Timestamp(milliseconds: max(a, b)),
                                    programs: filters[k % filters.count], now: Timestamp(milliseconds: until))
            let raw = try db.run(sql: rawListingSQL, arguments: scope.arguments, columns: Reports.crashColumns, label: "raw listing")
            let all = try Reports.crashes(db, scope)
            #expect(all.rows == raw.rows, "all \(scope.since.milliseconds)..<\(scope.until.milliseconds) \(scope.programs)")
            // The bytes histctl writes for --format csv|json, from the query's rows, against the raw rows rendered.
            let format: OutputFormat = k % 2 == 0 ? .csv : .json
            #expect(try Reports.crashListing(db, scope, format: format)?.bytes == Renderer.bytes(raw, as: format),
                    "\(format) \(scope.since.milliseconds)..<\(scope.until.milliseconds) \(scope.programs)")
            let n = Int.random(in: 0...60, using: &rng)
            let newest = try Reports.crashes(db, scope, newest: n)
            #expect(newest.rows == Array(raw.rows.suffix(n)), "newest \(n) \(scope.since.milliseconds)..<\(scope.until.milliseconds) \(scope.programs)")
            withDelay += all.rows.filter { $0[7] != .null }.count
        }
        return withDelay
    }

    @Test(arguments: [1, 2, 3, 4] as [UInt64])
    func restartDelayMatchesRawRows(seed: UInt64) throws {
        var rng = SeededGenerator(seed: seed)
        let dir = SampleHistory.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/delays.db"
        let store = try LoopRollupEquivalenceTests.openStore(path)
        defer { store.close() }
        let writer = store.startWriter(options: .init(batchSize: Int.random(in: 1...40, using: &rng)))
        let span: Int64 = 2 * 24 * LoopRollupEquivalenceTests.hour
        let t0 = LoopRollupEquivalenceTests.t0
        var nextID: InstanceID = 0
        var seq: UInt64 = 0
        var listed = 0
        for slice in 0..<3 {
            let from = t0 + Int64(slice) * span / 3
            LoopRollupEquivalenceTests.record(writer, &rng, from: from, cycles: 400, span: span / 3, nextID: &nextID, seq: &seq)
            #expect(writer.flush(timeout: .seconds(30)))
            try store.withWriteConnection { db in
                let expected = try Self.expected(db)
                #expect(try Self.actual(db) == expected, "seed \(seed), slice \(slice), before the prune")
            }
            let cutoff = t0 + Int64.random(in: 0...(Int64(slice + 1) * span / 3), using: &rng)
            let retention = Duration.milliseconds(t0 + 10 * span - cutoff)
            try store.prune(now: Timestamp(milliseconds: t0 + 10 * span), retention: retention,
                            snapshotRetention: retention, batchSize: Int.random(in: 1...200, using: &rng))
            try store.withWriteConnection { db in
                let expected = try Self.expected(db)
                #expect(try Self.actual(db) == expected, "seed \(seed), slice \(slice), after the prune")
            }
            listed += try Self.compareListings(path: path, &rng, from: t0 - LoopRollupEquivalenceTests.hour,
                                               until: t0 + span + LoopRollupEquivalenceTests.hour)
        }
        #expect(listed > 0, "the listings compared had restart delays")
    }

    /// Retention between its phases: the events phase deletes restart_scheduled events before the
    /// instances phase deletes their (older) instances, in other transactions. After the events phase
    /// alone, an instance whose first restart by time is gone shows the next one the rows still hold.
    @Test func pruningTheEventsRecomputesTheValue() throws {
        let dir = SampleHistory.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try LoopRollupEquivalenceTests.openStore(dir + "/h.db")
        defer { store.close() }
        let writer = store.startWriter(options: .init(batchSize: 1))
        let t0 = LoopRollupEquivalenceTests.t0
        let info = InstanceInfo(id: 1, program: "web", workerIndex: nil, identity: ProcessIdentity(pid: 100, startTicks: 1),
                                startedAt: Timestamp(milliseconds: t0))
        let end = InstanceEnd(instance: info, endedAt: Timestamp(milliseconds: t0 + 10_000), status: .exited(code: 1),
                              classification: .crash, uptime: .seconds(10), stderrTail: "boom")
        writer.record(HistEvent(time: Timestamp(milliseconds: t0), program: "web", payload: .started(info)))
        writer.record(HistEvent(time: end.endedAt, program: "web", payload: .ended(end)))
        // Two restarts for it: the second written, with an earlier ts (a clock stepped back), is the
        // first by time and wins; a third, 61 s after the end, is outside the window.
        writer.record(HistEvent(time: Timestamp(milliseconds: t0 + 30_000), program: "web",
                                payload: .restartScheduled(instance: info, delay: .milliseconds(3000), attempt: 2, workerIndex: nil)))
        writer.record(HistEvent(time: Timestamp(milliseconds: t0 + 20_000), program: "web",
                                payload: .restartScheduled(instance: info, delay: .milliseconds(2000), attempt: 1, workerIndex: nil)))
        writer.record(HistEvent(time: Timestamp(milliseconds: t0 + 71_000), program: "web",
                                payload: .restartScheduled(instance: info, delay: .milliseconds(1000), attempt: 3, workerIndex: nil)))
        #expect(writer.flush(timeout: .seconds(10)))
        try store.withWriteConnection { db in
            #expect(try Int64.fetchOne(db, sql: "SELECT restart_delay_ms FROM instances") == 2000)
            // Only the events phase, with the cut between the two restarts.
            var pruner = Pruner(now: Timestamp(milliseconds: t0 + 25_000), retention: .zero, snapshotRetention: .zero, batchSize: 1)
            while pruner.phase == .events { _ = try pruner.step(db) }
            #expect(try Int.fetchOne(db, sql: "SELECT count(*) FROM instances") == 1)
            #expect(try Int64.fetchOne(db, sql: "SELECT restart_delay_ms FROM instances") == 3000)
            #expect(try Self.actual(db) == (try Self.expected(db)))
        }
    }
}
}

extension RandomizedHistories.RestartDelayEquivalenceTests {
    /// The writer's shortcut (the delay written with the end when the batch holds the end and the one
    /// restart after it) and its exceptions, written in big batches: a plain cycle, two restarts in one
    /// batch (the later-written one first by ts), an end written
    /// before its start, a restart out of the window, and a clean exit with a restart. Each gives what
    /// the raw rule gives.
    @Test func restartsInTheEndsBatch() throws {
        let dir = SampleHistory.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try RandomizedHistories.LoopRollupEquivalenceTests.openStore(dir + "/h.db")
        defer { store.close() }
        let writer = store.startWriter(options: .init(batchSize: 500))
        let t0 = RandomizedHistories.LoopRollupEquivalenceTests.t0
        var id: InstanceID = 0
        func cycle(_ order: [String], at t: Int64, restarts: [(Int64, Int64)], classification: ExitClassification = .crash) {
            id += 1
            let info = InstanceInfo(id: id, program: "web", workerIndex: nil, identity: ProcessIdentity(pid: Int32(100 + id), startTicks: UInt64(id)),
                                    startedAt: Timestamp(milliseconds: t))
            let end = InstanceEnd(instance: info, endedAt: Timestamp(milliseconds: t + 1000), status: .exited(code: 1),
                                  classification: classification, uptime: .seconds(1), stderrTail: "x")
            for step in order {
                switch step {
                case "start": writer.record(HistEvent(time: info.startedAt, program: "web", payload: .started(info)))
                case "end": writer.record(HistEvent(time: end.endedAt, program: "web", payload: .ended(end)))
                default:
                    for (k, r) in restarts.enumerated() where step == "restart\(k)" {
                        writer.record(HistEvent(time: Timestamp(milliseconds: t + 1000 + r.0), program: "web",
                                                payload: .restartScheduled(instance: info, delay: .milliseconds(r.1), attempt: k + 1, workerIndex: nil)))
                    }
                }
            }
        }
        for round in 0..<20 {
            let t = t0 + Int64(round) * 600_000
            cycle(["start", "end", "restart0"], at: t, restarts: [(0, 100)])
            cycle(["start", "end", "restart0", "restart1"], at: t + 20_000, restarts: [(3000, 300), (1000, 400)])
            cycle(["end", "start", "restart0"], at: t + 30_000, restarts: [(0, 500)])
            cycle(["start", "end", "restart0"], at: t + 40_000, restarts: [(61_000, 600)])
            cycle(["start", "end", "restart0"], at: t + 50_000, restarts: [(0, 700)], classification: .clean)
            cycle(["start", "end", "restart0"], at: t + 60_000, restarts: [(60_000, 800)], classification: .limit)
        }
        #expect(writer.flush(timeout: .seconds(30)))
        try store.withWriteConnection { db in
            let actual = try Self.actual(db)
            #expect(actual == (try Self.expected(db)))
            let values = Set(actual.compactMap { $0[1] })
            #expect(values.isSuperset(of: [100, 400, 800]), "the plain cycle, the earlier of two, the window's edge: \(values)")
            #expect(values.isDisjoint(with: [300, 600, 700]))
        }
    }

    /// Migration 0013 fills the column with the statement fixtures use, and that statement gives what
    /// the writer wrote on a writer-made history.
    @Test func migrationAndRebuildAgreeWithTheWriter() throws {
        let migration = try #require(BundledSQL.migrations.first { $0.name.hasPrefix("0013_") }?.sql)
        func squash(_ s: String) -> String { s.split(whereSeparator: \.isWhitespace).joined(separator: " ") }
        #expect(squash(migration).contains(squash(RestartDelay.rebuildAllSQL)))

        var rng = SeededGenerator(seed: 43)
        let dir = SampleHistory.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try RandomizedHistories.LoopRollupEquivalenceTests.openStore(dir + "/h.db")
        defer { store.close() }
        let writer = store.startWriter(options: .init(batchSize: 5))
        var nextID: InstanceID = 0
        var seq: UInt64 = 0
        RandomizedHistories.LoopRollupEquivalenceTests.record(writer, &rng, from: RandomizedHistories.LoopRollupEquivalenceTests.t0, cycles: 600,
                                          span: 12 * RandomizedHistories.LoopRollupEquivalenceTests.hour, nextID: &nextID, seq: &seq)
        #expect(writer.flush(timeout: .seconds(30)))
        try store.withWriteConnection { db in
            let before = try Self.actual(db)
            #expect(before.contains { $0[1] != nil })
            try db.inTransaction {
                try HistoryRollups.rebuildAll(db)
                return .commit
            }
            #expect(try Self.actual(db) == before)
            #expect(before == (try Self.expected(db)))
        }
    }
}
