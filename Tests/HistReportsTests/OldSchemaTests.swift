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
        #expect(try raw.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM sqlite_master WHERE name IN ('loop_hours', 'program_hours')") } == 0)
    }

    /// A database migrated up to 0011 lacks only instances.restart_delay_ms (0013): the listing computes
    /// the restart delays from the events instead (the column's raw rule), with the same rows.
    @Test func restartDelaysBefore0013ComeFromTheEvents() throws {
        let dir = SampleHistory.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let oldPath = dir + "/old.db", newPath = dir + "/new.db"
        let queue = try DatabaseQueue(path: oldPath)
        try HistoryDatabase.makeMigrator().migrate(queue, upTo: "0011_loop_rollups.sql")
        try queue.write { db in
            try db.execute(sql: SampleHistory.sql)
            try CrashRollup.rebuild(db, from: Int64.min + 1, until: Int64.max)
            try LoopRollup.rebuild(db, from: -(1 << 62), until: 1 << 62)
            try ProgramHours.rebuild(db, from: -(1 << 62), until: 1 << 62)
        }
        try queue.close()
        try SampleHistory.create(at: newPath)
        let old = try ReportDatabase(path: oldPath), new = try ReportDatabase(path: newPath)
        let t = SampleHistory.t0
        let scope = ReportScope(since: Timestamp(milliseconds: t - 86_400_000), until: Timestamp(milliseconds: t + 86_400_000),
                                now: Timestamp(milliseconds: t + 3_600_000))
        let rows = try Reports.crashes(new, scope).rows
        #expect(rows.contains { $0[7] != .null }, "the sample has restart delays")
        #expect(try Reports.crashes(old, scope).rows == rows)
        #expect(try Reports.crashes(old, scope, newest: 2).rows == Array(rows.suffix(2)))
        let note = try #require(old.schemaNote)
        #expect(note.contains("0013_restart_delay.sql") && note.contains("instances.restart_delay_ms"))
        #expect(new.schemaNote == nil)
    }

    /// A database migrated up to 0014 lacks only the day rollups (0015): loops reads them as their definition
    /// over the hour rollups (stand-in views) and no whole day from them, with the same rows.
    @Test func loopsBefore0015ReadTheHourRollups() throws {
        let dir = SampleHistory.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let oldPath = dir + "/old.db", newPath = dir + "/new.db"
        let queue = try DatabaseQueue(path: oldPath)
        try HistoryDatabase.makeMigrator().migrate(queue, upTo: "0014_restart_minutes.sql")
        try queue.write { db in
            try db.execute(sql: SampleHistory.sql)
            try CrashRollup.rebuild(db, from: Int64.min + 1, until: Int64.max)
            try LoopRollup.rebuild(db, from: -(1 << 62), until: 1 << 62)
            try ProgramHours.rebuild(db, from: -(1 << 62), until: 1 << 62)
            try RestartDelay.rebuildAll(db)
        }
        try queue.close()
        try SampleHistory.create(at: newPath)
        let old = try ReportDatabase(path: oldPath), new = try ReportDatabase(path: newPath)
        #expect(!old.hasDayRollups && new.hasDayRollups)
        let t = SampleHistory.t0
        for (since, until) in [(t - 3 * 86_400_000, t + 3 * 86_400_000), (t - 86_400_000, t + 86_400_000), (t - 3_600_000, t + 1_234_567)] {
            let scope = ReportScope(since: Timestamp(milliseconds: since), until: Timestamp(milliseconds: until),
                                    now: Timestamp(milliseconds: t + 3_600_000))
            let rows = try Reports.loops(new, scope, window: .seconds(600), minCrashes: 3).rows
            #expect(try Reports.loops(old, scope, window: .seconds(600), minCrashes: 3).rows == rows)
        }
        let note = try #require(old.schemaNote)
        #expect(note.contains("0015_day_rollups.sql") && note.contains("loop_days, program_days"))
        #expect(new.schemaNote == nil)
    }
}
