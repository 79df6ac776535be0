import Foundation
import GRDB
import HistModel
import HistStore
import HistTestSupport
import Testing
@testable import HistReports

// Serialized with the other randomized suites (RandomizedHistories).
extension RandomizedHistories {
/// The crash_hours rollup (migrations/0007_rollups.sql) is exact: on randomized histories written by the
/// real writer (random transaction sizes, lost starts, ends recorded twice, pools, limit kills) with
/// retention pruning in between, the table equals the raw instances grouped the same way, and every
/// answer read from it equals the same answer computed from raw rows only (the queries as they were
/// before the rollup).
@Suite struct RollupEquivalenceTests {
    /// crashes_summary.sql before the rollup: instances only.
    static let rawSummarySQL = """
WITH g AS (
    SELECT p.name AS program, COUNT(*) AS crashes, SUM(i.class = 'limit') AS limit_kills,
           MIN(i.ended_at) AS first, MAX(i.ended_at) AS last,
           json_group_array(DISTINCT i.exit_code) AS codes, json_group_array(DISTINCT i.signal) AS sigs
    FROM programs p NOT INDEXED
    CROSS JOIN instances i INDEXED BY instances_crashes ON i.program_id = p.id
    WHERE i.class IN ('crash', 'limit') AND i.ended_at >= :since AND i.ended_at < :until
      AND (json_array_length(:programs) = 0 OR p.name IN (SELECT value FROM json_each(:programs))
           OR p.name || '.' || i.worker_index IN (SELECT value FROM json_each(:programs)))
    GROUP BY p.id
)
SELECT program, crashes, limit_kills, first, last,
       (SELECT group_concat(value, ',') FROM (SELECT value FROM json_each(g.codes) WHERE value IS NOT NULL ORDER BY value)) AS exit_codes,
       (SELECT group_concat(value, ',') FROM (SELECT value FROM json_each(g.sigs) WHERE value IS NOT NULL ORDER BY value)) AS signals
FROM g
ORDER BY crashes DESC, program;
"""
    /// crashes_count.sql before the rollup: instances only.
    static let rawCountSQL = """
SELECT COUNT(*) AS crashes
FROM programs p NOT INDEXED
CROSS JOIN instances i INDEXED BY instances_crashes ON i.program_id = p.id
WHERE i.class IN ('crash', 'limit') AND i.ended_at >= :since AND i.ended_at < :until
  AND (json_array_length(:programs) = 0 OR p.name IN (SELECT value FROM json_each(:programs))
       OR p.name || '.' || i.worker_index IN (SELECT value FROM json_each(:programs)));
"""

    static let hour: Int64 = 3_600_000
    static let t0: Int64 = 1_764_547_200_000 // 2025-12-01T00:00:00Z

    /// Records a random history of about `cycles` process lifetimes over `days`, through the writer.
    static func record(_ writer: HistoryWriter, _ rng: inout SeededGenerator, from: Int64, cycles: Int, span: Int64,
                       nextID: inout InstanceID) {
        let programs: [(name: String, workers: Int?)] = [("web", nil), ("batch", nil), ("jobs", 3), ("cron", nil)]
        var t = from
        var open: [(InstanceInfo, Int64)] = []
        for _ in 0..<cycles {
            t += Int64.random(in: 0...(2 * span / Int64(cycles)), using: &rng)
            let p = programs[Int.random(in: 0..<programs.count, using: &rng)]
            let worker = p.workers.map { Int.random(in: 0..<$0, using: &rng) }
            nextID += 1
            let info = InstanceInfo(id: nextID, program: p.name, workerIndex: worker,
                                    identity: ProcessIdentity(pid: Int32.random(in: 100...30_000, using: &rng), startTicks: UInt64(t / 10)),
                                    startedAt: Timestamp(milliseconds: t))
            // Now and then the start is lost (a recording gap): the end then writes the whole row.
            if Int.random(in: 0..<10, using: &rng) != 0 {
                writer.record(HistEvent(time: Timestamp(milliseconds: t), program: p.name, payload: .started(info)))
            }
            open.append((info, t))
            // End a random open instance (not always the newest: ends arrive out of time order too).
            while open.count > Int.random(in: 0...3, using: &rng) {
                let (info, started) = open.remove(at: Int.random(in: 0..<open.count, using: &rng))
                let endAt = max(started, t - Int64.random(in: 0...60_000, using: &rng))
                let roll = Int.random(in: 0..<10, using: &rng)
                let cls: ExitClassification = roll < 5 ? .crash : roll < 7 ? .limit : roll < 9 ? .clean : .stopped
                let status: HistModel.ExitStatus = cls == .clean ? .exited(code: 0)
                    : cls == .limit ? .signaled(signal: 15, coreDumped: false)
                    : Bool.random(using: &rng) ? .exited(code: Int32.random(in: 1...3, using: &rng))
                    : .signaled(signal: [6, 9, 11][Int.random(in: 0..<3, using: &rng)], coreDumped: Bool.random(using: &rng))
                let end = InstanceEnd(instance: info, endedAt: Timestamp(milliseconds: endAt), status: status, classification: cls,
                                      uptime: .milliseconds(endAt - started), stderrTail: cls == .crash ? "boom" : "")
                writer.record(HistEvent(time: Timestamp(milliseconds: endAt), program: info.program, payload: .ended(end)))
                // Rarely, the same end twice: the first one counts, once.
                if Int.random(in: 0..<25, using: &rng) == 0 {
                    writer.record(HistEvent(time: Timestamp(milliseconds: endAt), program: info.program, payload: .ended(end)))
                }
            }
        }
    }

    /// The rollup table as it should be: the raw instances grouped by its key.
    static func expectedRollup(_ db: Database) throws -> [[Int64?]] {
        try Row.fetchAll(db, sql: """
            SELECT ended_at - ended_at % 3600000, program_id, coalesce(worker_index, -1), class = 'limit',
                   coalesce(exit_code, -1), coalesce(signal, 0), COUNT(*), MIN(ended_at), MAX(ended_at)
            FROM instances WHERE class IN ('crash', 'limit') AND ended_at IS NOT NULL
            GROUP BY 1, 2, 3, 4, 5, 6 ORDER BY 1, 2, 3, 4, 5, 6
            """).map { r in (0..<9).map { r[$0] } }
    }

    static func actualRollup(_ db: Database) throws -> [[Int64?]] {
        try Row.fetchAll(db, sql: """
            SELECT hour, program_id, worker, class = 'limit', exit_code, signal, crashes, first_ms, last_ms
            FROM crash_hours ORDER BY 1, 2, 3, 4, 5, 6
            """).map { r in (0..<9).map { r[$0] } }
    }

    /// Compares every rollup-based answer with the raw one, for random ranges and program filters.
    static func compareAnswers(path: String, _ rng: inout SeededGenerator, from: Int64, until: Int64) throws {
        let db = try ReportDatabase(path: path)
        let filters: [[String]] = [[], ["web"], ["jobs"], ["jobs.1"], ["batch", "jobs.0"], ["cron", "web", "jobs.2"]]
        for k in 0..<40 {
            // Aligned, nearly aligned and arbitrary bounds, short and long ranges.
            var a = Int64.random(in: from...until, using: &rng), b = Int64.random(in: from...until, using: &rng)
            if k % 4 == 0 { a -= a % hour }
            if k % 4 == 1 { b = b - b % hour + Int64.random(in: -1...1, using: &rng) }
            if k % 5 == 0 { b = a + Int64.random(in: 0...(2 * hour), using: &rng) }
            let scope = ReportScope(since: Timestamp(milliseconds: min(a, b)), until: Timestamp(milliseconds: max(a, b)),
                                    programs: filters[k % filters.count], now: Timestamp(milliseconds: until))
            let summary = try Reports.crashes(db, scope, summary: true)
            let raw = try db.run(sql: rawSummarySQL, arguments: scope.arguments, columns: Reports.crashSummaryColumns, label: "raw summary")
            #expect(summary.rows == raw.rows, "summary \(scope.since.milliseconds)..<\(scope.until.milliseconds) \(scope.programs)")
            let count = try Reports.crashCount(db, scope)
            let rawCount = try db.run(sql: rawCountSQL, arguments: scope.arguments, columns: [ReportColumn("crashes")], label: "raw count")
            #expect(.integer(Int64(count)) == rawCount.rows.first?.first, "count \(scope.since.milliseconds)..<\(scope.until.milliseconds) \(scope.programs)")
        }
    }

    @Test(arguments: [1, 2, 3, 4, 5, 6] as [UInt64])
    func rollupsMatchRawRows(seed: UInt64) throws {
        var rng = SeededGenerator(seed: seed)
        let dir = SampleHistory.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/rollup.db"
        let store = try HistoryStore.open(path: path)
        defer { store.close() }
        _ = try store.beginRun(host: "test", pid: 1, version: "0.1.0", configPath: nil, configHash: nil, bootID: nil,
                               programs: [], pools: [], at: Timestamp(milliseconds: Self.t0))
        let writer = store.startWriter(options: .init(batchSize: Int.random(in: 1...40, using: &rng)))
        let days: Int64 = 3
        let span = days * 24 * Self.hour
        var nextID: InstanceID = 0
        // Three slices of history; after each, retention with a cutoff somewhere in what was written.
        for slice in 0..<3 {
            let from = Self.t0 + Int64(slice) * span / 3
            Self.record(writer, &rng, from: from, cycles: 400, span: span / 3, nextID: &nextID)
            #expect(writer.flush(timeout: .seconds(30)))
            let cutoff = Self.t0 + Int64.random(in: 0...(Int64(slice + 1) * span / 3), using: &rng)
            let retention = Duration.milliseconds(Self.t0 + 10 * span - cutoff)
            try store.prune(now: Timestamp(milliseconds: Self.t0 + 10 * span), retention: retention,
                            snapshotRetention: retention, batchSize: Int.random(in: 1...200, using: &rng))
            let (expected, actual) = try store.withWriteConnection { db in (try Self.expectedRollup(db), try Self.actualRollup(db)) }
            #expect(!expected.isEmpty || slice == 0)
            #expect(actual == expected, "seed \(seed), slice \(slice): crash_hours differs from instances")
            try Self.compareAnswers(path: path, &rng, from: Self.t0 - Self.hour, until: Self.t0 + span + Self.hour)
        }
    }

    /// Migration 0007 builds the rollup for an existing history with the statement retention and
    /// fixtures use (so the three paths cannot drift apart).
    @Test func migrationUsesTheRebuildStatement() throws {
        let migration = try #require(BundledSQL.migrations.first { $0.name.hasPrefix("0007_") }?.sql)
        let rebuild = HistoryRollups.rebuildSQL
            .replacingOccurrences(of: ":from", with: "-9223372036854775807")
            .replacingOccurrences(of: ":until", with: "9223372036854775807")
        func squash(_ s: String) -> String { s.split(whereSeparator: \.isWhitespace).joined(separator: " ") }
        #expect(squash(migration).contains(squash(rebuild)))
    }

    /// A fixture (rows written without the writer) gets its rollups filled, exactly.
    @Test func fixtureFillsTheRollup() throws {
        let dir = SampleHistory.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/fixture.db"
        try HistoryFixture.generate(at: path, size: .small, end: Timestamp(milliseconds: Self.t0))
        let queue = try DatabaseQueue(path: path)
        defer { try? queue.close() }
        let (expected, actual) = try queue.read { db in (try Self.expectedRollup(db), try Self.actualRollup(db)) }
        #expect(!expected.isEmpty)
        #expect(actual == expected)
    }
}
}
