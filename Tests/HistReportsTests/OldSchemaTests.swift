import Foundation
import GRDB
import HistModel
@testable import HistStore
import HistTestSupport
import Testing
@testable import HistReports

/// histctl on a database an older histd wrote and no histd has migrated since: histctl never writes, so
/// it gives every report from raw rows (stand-ins for the tables later migrations added) with the same
/// answers as on the migrated file, and says once why it is slower and how to upgrade.
@Suite struct OldSchemaTests {
    /// The sample history's rows in a database migrated only `upTo`, and the same rows fully migrated.
    static func pair(upTo: String) throws -> (dir: String, old: String, new: String) {
        let dir = SampleHistory.tempDir()
        let old = dir + "/old.db", new = dir + "/new.db"
        let queue = try DatabaseQueue(path: old)
        try HistoryDatabase.makeMigrator().migrate(queue, upTo: upTo)
        try queue.write { try $0.execute(sql: SampleHistory.sql) }
        try queue.close()
        try SampleHistory.create(at: new)
        return (dir, old, new)
    }

    @Test(arguments: ["0003_event_model.sql", "0006_ownership.sql"])
    func reportsOnAnUnmigratedDatabaseMatchTheMigratedOne(upTo: String) throws {
        let (dir, oldPath, newPath) = try Self.pair(upTo: upTo)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let old = try ReportDatabase(path: oldPath), new = try ReportDatabase(path: newPath)
        let t = SampleHistory.t0
        let scopes = [
            ReportScope(since: Timestamp(milliseconds: t - 86_400_000), until: Timestamp(milliseconds: t + 86_400_000), now: Timestamp(milliseconds: t + 3_600_000)),
            ReportScope(since: Timestamp(milliseconds: t - 3_600_000), until: Timestamp(milliseconds: t + 1_234_567), programs: ["web"], now: Timestamp(milliseconds: t + 3_600_000)),
        ]
        for scope in scopes {
            #expect(try Reports.crashes(old, scope).rows == (try Reports.crashes(new, scope).rows))
            #expect(try Reports.crashes(old, scope, summary: true).rows == (try Reports.crashes(new, scope, summary: true).rows))
            #expect(try Reports.crashCount(old, scope) == (try Reports.crashCount(new, scope)))
            #expect(try Reports.loops(old, scope, window: .seconds(600), minCrashes: 3).rows
                    == (try Reports.loops(new, scope, window: .seconds(600), minCrashes: 3).rows))
            #expect(try Reports.loops(old, scope, window: .seconds(60), minCrashes: 2).rows
                    == (try Reports.loops(new, scope, window: .seconds(60), minCrashes: 2).rows))
            #expect(try Reports.status(old, scope, supervisor: .alive).rows == (try Reports.status(new, scope, supervisor: .alive).rows))
            #expect(!(try Reports.crashes(new, scope)).rows.isEmpty || scope.programs == ["web"])
        }
        let note = try #require(old.schemaNote)
        #expect(note.contains("Start histd on it once"))
        #expect(note.contains(upTo == "0003_event_model.sql" ? "0004_operator_actions.sql" : "0007_rollups.sql"))
        #expect(new.schemaNote == nil)
        // Still read-only: the stand-ins were TEMP views, the file has none of the tables.
        let raw = try DatabaseQueue(path: oldPath)
        defer { try? raw.close() }
        #expect(try raw.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM sqlite_master WHERE name IN ('loop_hours', 'program_hours', 'restart_delays')") } == 0)
    }

    /// Migration 0013 fills restart_delays for the history already there: the same rows as the rollup
    /// rebuilt from the same raw rows (and as the raw rule, RollupEquivalenceTests), and crashes lists the
    /// same restart delays before (from raw rows, through the stand-in) and after.
    @Test func migration0013FillsRestartDelaysForTheExistingHistory() throws {
        let (dir, oldPath, newPath) = try Self.pair(upTo: "0011_loop_rollups.sql")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let t = SampleHistory.t0
        let scope = ReportScope(since: Timestamp(milliseconds: t - 86_400_000), until: Timestamp(milliseconds: t + 86_400_000),
                                now: Timestamp(milliseconds: t + 3_600_000))
        // Unmigrated: the listing reads the stand-in (raw rows) and says so; the same rows as a new file.
        let unmigrated = try ReportDatabase(path: oldPath)
        #expect(unmigrated.schemaNote?.contains("0013_report_rollups.sql") == true)
        let before = try Reports.crashes(unmigrated, scope)
        #expect(before.rows == (try Reports.crashes(try ReportDatabase(path: newPath), scope)).rows)
        let store = try HistoryStore.openExisting(path: oldPath)
        store.close()
        func rows(_ path: String) throws -> [[Int64?]] {
            let q = try DatabaseQueue(path: path)
            defer { try? q.close() }
            return try q.read { try Row.fetchAll($0, sql: "SELECT instance_id, delay_ms, scheduled_at FROM restart_delays ORDER BY 1") }
                .map { r in (0..<3).map { r[$0] } }
        }
        let migrated = try rows(oldPath)
        #expect(!migrated.isEmpty)
        #expect(migrated == (try rows(newPath)))
        let after = try ReportDatabase(path: oldPath)
        #expect(after.schemaNote == nil)
        #expect(try Reports.crashes(after, scope).rows == before.rows)
        #expect(before.rows.contains { $0[before.columns.firstIndex { $0.name == "restart_delay_s" }!] != .null })
    }
}
