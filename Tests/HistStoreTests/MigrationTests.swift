import Foundation
import GRDB
import HistModel
import Testing
@testable import HistStore

/// What the numbered migrations do to a database, and that the Swift side agrees with them.
@Suite struct MigrationTests {
    /// The ids the writer binds (generated from the migrations by EmbedSQLGen) are the ids the database
    /// holds after every migration, and every stored kind has a Swift case. Later migrations that add
    /// kinds are covered as they land: this reads the migrated database, not a list.
    @Test func eventKindIDsAreTheDatabasesAfterAllMigrations() throws {
        let dir = TempDir()
        let (store, _) = try makeStore(dir)
        store.close()
        let stored = try reader(dir.file("h.db")).read { db in
            try Row.fetchAll(db, sql: "SELECT id, name FROM event_kinds ORDER BY id").map { ($0[0] as Int64, $0[1] as String) }
        }
        let swift = EventKind.allCases.map { (EventKindID.id($0), $0.rawValue) }.sorted { $0.0 < $1.0 }
        #expect(stored.map(\.0) == swift.map(\.0))
        #expect(stored.map(\.1) == swift.map(\.1))
    }

    /// 0003 on a database written under 0002: runs and what points at them survive the rebuild of
    /// `runs`, the never-set 'signal' stop reason is refused afterwards, and the never-produced
    /// `adopted` kind is gone.
    @Test func migration0003KeepsRunsAndDropsTheNeverRecordedVocabulary() throws {
        let dir = TempDir()
        let path = dir.file("old.db")
        do {
            let old = try DatabaseQueue(path: path)
            try HistoryDatabase.makeMigrator().migrate(old, upTo: "0002_views.sql")
            try old.write { db in
                try db.execute(sql: """
                    INSERT INTO runs (id, host, pid, version, started_at, stopped_at, stop_reason)
                        VALUES (1, 'h', 10, 'v', 1000, 2000, 'clean'), (2, 'h', 11, 'v', 3000, 4000, 'signal'),
                               (3, 'h', 12, 'v', 5000, NULL, NULL);
                    INSERT INTO programs (id, name) VALUES (1, 'web');
                    INSERT INTO instances (id, run_id, program_id, pid, start_ticks, started_at, ended_at, class)
                        VALUES (1, 1, 1, 100, 5, 1100, 1900, 'crash');
                    """)
            }
            try old.close()
        }
        let store = try HistoryStore.openExisting(path: path)
        store.close()
        let r = try reader(path)
        let runs = try r.read { try Row.fetchAll($0, sql: "SELECT id, stopped_at, stop_reason FROM runs ORDER BY id") }
        #expect(runs.map { $0[0] as Int64 } == [1, 2, 3])
        #expect(runs.map { $0[2] as String? } == ["clean", "clean", nil])
        #expect(try count(r, "SELECT count(*) FROM crashes WHERE instance_id = 1") == 1)
        #expect(try count(r, "SELECT count(*) FROM event_kinds WHERE name = 'adopted' OR id = 17") == 0)
        #expect(try count(r, "SELECT count(*) FROM sqlite_master WHERE name = 'runs_started'") == 1)
        let writer = try HistoryStore.openExisting(path: path)
        defer { writer.close() }
        #expect(throws: (any Error).self) {
            try writer.withWriteConnection { try $0.execute(sql: "UPDATE runs SET stop_reason = 'signal' WHERE id = 3") }
        }
    }
}
