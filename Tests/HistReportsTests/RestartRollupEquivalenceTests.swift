import Foundation
import GRDB
import HistModel
import HistStore
import HistTestSupport
import Testing
@testable import HistReports

// Serialized with the other randomized suites (RandomizedHistories).
extension RandomizedHistories {
/// The restart_minutes rollup (migrations/0014_restart_minutes.sql) is exact: on randomized histories
/// written by the real writer over several runs (random transaction sizes; restarts that happen, come too
/// late, are cancelled, or follow an operator-caused end; lost starts; delays from 0 to over an hour;
/// events out of time order; retention while the writer runs and between runs), the table equals the
/// rebuild from raw rows, and status's restarts_1h equals the count from raw rows only (status.sql as it
/// was before the rollup) at random "now"s.
@Suite struct RestartRollupEquivalenceTests {
    static let t0: Int64 = 1_764_547_200_000 // 2025-12-01T00:00:00Z
    static let hour: Int64 = 3_600_000

    /// restarts_1h before the rollup, per program name.
    static let rawSQL = """
        SELECT p.name,
               (SELECT COUNT(*) FROM events e
                WHERE e.kind = 4 AND e.program_id = p.id AND e.ts >= :now - 3600000 AND e.ts <= :now
                  AND NOT EXISTS (SELECT 1 FROM operator_effects f WHERE f.instance_id = e.instance_id AND f.effect = 'ended')
                  AND EXISTS (SELECT 1 FROM events b WHERE b.kind = 1 AND b.ts >= e.ts AND b.ts <= e.ts + e.value + 60000
                                AND b.ts <= :now AND b.program_id = e.program_id AND b.run_id IS e.run_id))
        FROM programs p ORDER BY p.name
        """

    /// A random history of `cycles` lifetimes per program from `from`, as the engine would report them,
    /// sorted by time with some neighbours swapped (the writer takes them in any order).
    static func history(_ rng: inout SeededGenerator, from: Int64, cycles: Int, nextID: inout InstanceID) -> [HistEvent] {
        let programs: [(name: String, workers: Int?)] = [("web", nil), ("batch", nil), ("jobs", 2), ("cron", nil)]
        var out: [HistEvent] = []
        var seq: UInt64 = 0
        for p in programs {
            for w in 0..<(p.workers ?? 1) {
                let worker = p.workers == nil ? nil : w
                var t = from + Int64.random(in: 0...30_000, using: &rng)
                for _ in 0..<cycles {
                    nextID += 1
                    let info = InstanceInfo(id: nextID, program: p.name, workerIndex: worker,
                                            identity: ProcessIdentity(pid: Int32.random(in: 100...30_000, using: &rng), startTicks: UInt64(nextID)),
                                            startedAt: Timestamp(milliseconds: t))
                    if Int.random(in: 0..<12, using: &rng) != 0 {
                        out.append(HistEvent(time: Timestamp(milliseconds: t), program: p.name, payload: .started(info)))
                    }
                    let endAt = t + Int64.random(in: 0...40_000, using: &rng)
                    var operatorEnd: UInt64?
                    if Int.random(in: 0..<10, using: &rng) == 0 { seq += 1; operatorEnd = seq }
                    let end = InstanceEnd(instance: info, endedAt: Timestamp(milliseconds: endAt), status: .exited(code: 1),
                                          classification: operatorEnd == nil ? .crash : .stopped, uptime: .milliseconds(endAt - t),
                                          stderrTail: "x")
                    out.append(HistEvent(time: Timestamp(milliseconds: endAt), program: p.name, payload: .ended(end), operatorAction: operatorEnd))
                    let roll = Int.random(in: 0..<20, using: &rng)
                    let delay: Int64 = roll == 0 ? 2 * hour + Int64.random(in: 0...hour, using: &rng)
                        : roll < 4 ? 0 : Int64.random(in: 0...90_000, using: &rng)
                    let scheduled = endAt + Int64.random(in: 0...50, using: &rng)
                    out.append(HistEvent(time: Timestamp(milliseconds: scheduled), program: p.name,
                                         payload: .restartScheduled(instance: info, delay: .milliseconds(delay), attempt: 1, workerIndex: worker)))
                    // Usually the start comes on time; sometimes too late (past the 60 s of slack), sometimes a
                    // shutdown cancels it and the next start comes much later.
                    let late = Int.random(in: 0..<8, using: &rng)
                    t = scheduled + delay + (late == 0 ? Int64.random(in: 60_001...200_000, using: &rng)
                        : late == 1 ? 3 * hour : Int64.random(in: 0...60_000, using: &rng))
                    // Restarts with a long delay are followed by a start long before it is due now and then.
                    if roll == 0 && Bool.random(using: &rng) { t = scheduled + Int64.random(in: 0...600_000, using: &rng) }
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

    static func rows(_ db: Database) throws -> [[Int64]] {
        try Row.fetchAll(db, sql: "SELECT program_id, minute, restarts, reach_ms FROM restart_minutes ORDER BY 1, 2")
            .map { r in (0..<4).map { r[$0] } }
    }

    /// The table equals its rebuild from raw rows.
    static func checkTable(_ store: HistoryStore, _ label: String) throws {
        let (actual, expected) = try store.withWriteConnection { db -> ([[Int64]], [[Int64]]) in
            let actual = try rows(db)
            var expected: [[Int64]] = []
            try db.inTransaction {
                try db.execute(sql: "DELETE FROM restart_minutes")
                try db.execute(sql: HistoryRollups.restartRebuildSQL,
                               arguments: ["from": -(Int64(1) << 62), "until": Int64(1) << 62, "program": nil as Int64?])
                expected = try rows(db)
                return .rollback
            }
            return (actual, expected)
        }
        #expect(!expected.isEmpty, "\(label): no restarts at all")
        #expect(actual == expected, "\(label): restart_minutes differs from its rebuild")
    }

    /// status's restarts_1h equals the raw count at `nows`.
    static func checkStatus(path: String, nows: [Int64], _ label: String) throws {
        let db = try ReportDatabase(path: path)
        #expect(db.hasRestartRollup)
        var nonZero = 0
        for now in nows {
            let at = Timestamp(milliseconds: now)
            let status = try Reports.status(db, ReportScope(since: at, until: at, now: at), supervisor: .alive)
            let got = status.rows.indices.map { [status.value($0, "program"), status.value($0, "restarts_1h")] }
            let raw = try db.run(sql: rawSQL, arguments: ["now": now], columns: [ReportColumn("program"), ReportColumn("n")], label: "raw")
            #expect(got == raw.rows, "\(label): restarts_1h at now = \(now)")
            nonZero += raw.rows.filter { $0[1] != .integer(0) }.count
        }
        #expect(nonZero > 0, "\(label): every count was 0")
    }

    static func nows(_ rng: inout SeededGenerator, from: Int64, until: Int64) -> [Int64] {
        (0..<30).map { k in
            var n = Int64.random(in: from...until, using: &rng)
            if k % 3 == 0 { n = n - n % 60_000 + Int64.random(in: -1...1, using: &rng) } // at minute edges
            if k % 5 == 0 { n = until - Int64.random(in: 0...120_000, using: &rng) }     // starts still due
            return n
        }
    }

    @Test(arguments: [1, 2, 3, 4] as [UInt64])
    func rollupMatchesRawRows(seed: UInt64) throws {
        var rng = SeededGenerator(seed: seed)
        let dir = SampleHistory.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/restarts.db"
        var nextID: InstanceID = 0
        var from = Self.t0
        for run in 0..<3 {
            let store = try HistoryStore.open(path: path)
            defer { store.close() }
            _ = try store.beginRun(host: "test", pid: Int32(run + 1), version: "0.1.0", configPath: nil, configHash: nil,
                                   bootID: nil, programs: [], pools: [], at: Timestamp(milliseconds: from))
            let writer = store.startWriter(options: .init(batchSize: Int.random(in: 1...30, using: &rng)))
            let events = Self.history(&rng, from: from, cycles: 60, nextID: &nextID)
            let half = events.count / 2
            for e in events[..<half] { writer.record(e) }
            #expect(writer.flush(timeout: .seconds(30)))
            // Retention on another connection while the writer runs: the waiting restarts are forgotten
            // and the second half's starts go through the database.
            let mid = events[half].time.milliseconds
            let cutoff = Self.t0 + Int64.random(in: 0...max(1, mid - Self.t0), using: &rng)
            let now = Timestamp(milliseconds: Self.t0 + 1000 * Self.hour)
            try store.prune(now: now, retention: .milliseconds(now.milliseconds - cutoff), snapshotRetention: .milliseconds(now.milliseconds - cutoff),
                            batchSize: Int.random(in: 1...300, using: &rng))
            for e in events[half...] { writer.record(e) }
            #expect(writer.flush(timeout: .seconds(30)))
            let last = events.last!.time.milliseconds
            try store.endRun(reason: .clean, at: Timestamp(milliseconds: last + 1))
            try Self.checkTable(store, "seed \(seed), run \(run)")
            try Self.checkStatus(path: path, nows: Self.nows(&rng, from: max(cutoff, from), until: last + 90_000), "seed \(seed), run \(run)")
            from = last + Int64.random(in: 1...(2 * Self.hour), using: &rng)
        }
    }

    /// Migration 0014 builds the rollup with the statement retention and fixtures use.
    @Test func migrationUsesTheRebuildStatement() throws {
        let migration = try #require(BundledSQL.migrations.first { $0.name.hasPrefix("0014_") }?.sql)
        let rebuild = HistoryRollups.restartRebuildSQL
            .replacingOccurrences(of: ":from", with: "-4611686018427387904")
            .replacingOccurrences(of: ":until", with: "4611686018427387904")
            .replacingOccurrences(of: ":program", with: "NULL")
        func squash(_ s: String) -> String { s.split(whereSeparator: \.isWhitespace).joined(separator: " ") }
        #expect(squash(migration).contains(squash(rebuild).replacingOccurrences(of: ";", with: "")))
    }

    /// A fixture (rows written without the writer) gets the rollup filled, exactly.
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
