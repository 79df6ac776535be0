import Foundation
import GRDB
import HistModel
import Testing
@testable import HistStore

@Suite struct OpeningTests {
    @Test func migrationsApplyFromEmptyInNameOrderFromEmbeddedSQL() throws {
        let dir = TempDir()
        let path = dir.file("new/sub/h.db") // parent folders do not exist yet
        let store = try HistoryStore.open(path: path)
        let applied = try store.withWriteConnection { try String.fetchAll($0, sql: "SELECT identifier FROM grdb_migrations") }
        #expect(applied == BundledSQL.migrations.map(\.name).sorted())
        #expect(applied.first == "0001_init.sql")
        #expect(applied.contains("0002_views.sql"))
        let kinds = try store.withWriteConnection { try Int.fetchOne($0, sql: "SELECT count(*) FROM event_kinds") }
        #expect(kinds == EventKind.allCases.count)
        let mode = try store.withWriteConnection { try String.fetchOne($0, sql: "PRAGMA journal_mode") }
        #expect(mode == "wal")
        let sync = try store.withWriteConnection { try Int.fetchOne($0, sql: "PRAGMA synchronous") }
        #expect(sync == 1) // NORMAL
        store.close()
        #expect(fileMode((path as NSString).deletingLastPathComponent) == 0o750)
    }

    @Test func reopeningIsIdempotent() throws {
        let dir = TempDir()
        let path = dir.file("h.db")
        let s1 = try HistoryStore.open(path: path)
        _ = try s1.beginRun(host: "h", pid: 1, version: "v", configPath: nil, configHash: nil, bootID: nil, programs: [], pools: [])
        s1.close()
        let s2 = try HistoryStore.open(path: path)
        let rows = try s2.withWriteConnection { try Int.fetchOne($0, sql: "SELECT count(*) FROM grdb_migrations") }
        #expect(rows == BundledSQL.migrations.count)
        let runs = try s2.withWriteConnection { try Int.fetchOne($0, sql: "SELECT count(*) FROM runs") }
        #expect(runs == 1)
        s2.close()
    }

    @Test func refusesDatabaseOfNewerHistd() throws {
        let dir = TempDir()
        let path = dir.file("h.db")
        let s = try HistoryStore.open(path: path)
        try s.withWriteConnection { try $0.execute(sql: "INSERT INTO grdb_migrations (identifier) VALUES ('0099_future.sql')") }
        s.close()
        let error = #expect(throws: HistoryStoreError.self) { try HistoryStore.open(path: path) }
        #expect(error?.code == .newerSchema)
        #expect(error?.description.contains("0099_future.sql") == true)
        #expect(error?.description.contains(HistoryDatabase.knownMigrations.last!) == true)
        // Readers may still read it.
        let r = try HistoryDatabase.openReadOnly(path: path)
        #expect(try count(r, "SELECT count(*) FROM events") == 0)
    }

    /// histd never modifies a file it then refuses: the checks run on a read-only connection before
    /// the writer's first write (which switches the file to WAL).
    @Test func refusedDatabasesStayByteIdentical() throws {
        let dir = TempDir()
        // Another application's database, in rollback-journal mode.
        let foreign = dir.file("app.db")
        let q = try DatabaseQueue(path: foreign)
        try q.write { db in
            try db.execute(sql: "CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
            try db.execute(sql: "INSERT INTO customers (name) VALUES ('ada'), ('grace')")
        }
        try q.close()
        let foreignBytes = try Data(contentsOf: URL(fileURLWithPath: foreign))
        let e1 = #expect(throws: HistoryStoreError.self) { try HistoryStore.open(path: foreign) }
        #expect(e1?.code == .notAHistoryDatabase)
        #expect(try Data(contentsOf: URL(fileURLWithPath: foreign)) == foreignBytes, "the foreign database was modified")
        #expect(!FileManager.default.fileExists(atPath: foreign + "-wal"))

        // A newer histd's database, checkpointed and closed (no -wal left).
        let newer = dir.file("newer.db")
        let s = try HistoryStore.open(path: newer)
        try s.withWriteConnection { db in
            try db.execute(sql: "INSERT INTO grdb_migrations (identifier) VALUES ('0099_future.sql')")
            try db.execute(sql: "PRAGMA wal_checkpoint(TRUNCATE)")
            try db.execute(sql: "PRAGMA journal_mode = DELETE")
        }
        s.close()
        let newerBytes = try Data(contentsOf: URL(fileURLWithPath: newer))
        let e2 = #expect(throws: HistoryStoreError.self) { try HistoryStore.open(path: newer) }
        #expect(e2?.code == .newerSchema)
        #expect(try Data(contentsOf: URL(fileURLWithPath: newer)) == newerBytes, "the newer database was modified")
    }

    @Test func clearErrorsForThingsThatAreNotHistoryDatabases() throws {
        let dir = TempDir()
        // A text file.
        let text = dir.file("notes.txt")
        try "hello, this is not a database\n".write(toFile: text, atomically: true, encoding: .utf8)
        let e1 = #expect(throws: HistoryStoreError.self) { try HistoryStore.open(path: text) }
        #expect(e1?.code == .notADatabase)
        #expect(try String(contentsOfFile: text, encoding: .utf8) == "hello, this is not a database\n")
        // A directory.
        let e2 = #expect(throws: HistoryStoreError.self) { try HistoryStore.open(path: dir.path) }
        #expect(e2?.code == .isDirectory)
        let e2r = #expect(throws: HistoryStoreError.self) { try HistoryDatabase.openReadOnly(path: dir.path) }
        #expect(e2r?.code == .isDirectory)
        // An SQLite database of something else.
        let other = dir.file("other.db")
        let q = try DatabaseQueue(path: other)
        try q.write { try $0.execute(sql: "CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)") }
        try q.close()
        let e3 = #expect(throws: HistoryStoreError.self) { try HistoryStore.open(path: other) }
        #expect(e3?.code == .notAHistoryDatabase)
        #expect(e3?.description.contains("customers") == true)
        // An empty file: a reader refuses it; the writer initializes it (histd creates it empty itself).
        let empty = dir.file("empty.db")
        _ = FileManager.default.createFile(atPath: empty, contents: Data())
        let e4 = #expect(throws: HistoryStoreError.self) { try HistoryDatabase.openReadOnly(path: empty) }
        #expect(e4?.code == .notAHistoryDatabase)
        let s = try HistoryStore.open(path: empty)
        s.close()
        // Missing: readers and maintenance never create it.
        let e5 = #expect(throws: HistoryStoreError.self) { try HistoryDatabase.openReadOnly(path: dir.file("missing.db")) }
        #expect(e5?.code == .missing)
        #expect(throws: HistoryStoreError.self) {
            try HistoryMaintenance.prune(path: dir.file("missing.db"), retention: .seconds(1), snapshotRetention: .seconds(1))
        }
        #expect(!FileManager.default.fileExists(atPath: dir.file("missing.db")))
        // Truncated garbage with a partial header.
        let trunc = dir.file("trunc.db")
        _ = FileManager.default.createFile(atPath: trunc, contents: Data("SQLite for".utf8))
        let e6 = #expect(throws: HistoryStoreError.self) { try HistoryStore.open(path: trunc) }
        #expect(e6?.code == .notADatabase)
    }

    @Test func databaseWalAndShmAreCreated0640() throws {
        let dir = TempDir()
        let path = dir.file("h.db")
        let old = umask(0o022) // a permissive umask must not loosen the result
        defer { umask(old) }
        let (store, _) = try makeStore(dir)
        let writer = store.startWriter()
        writer.record(HistEvent(time: ts(1), program: "web", payload: .gaveUp(instance: nil, restarts: 1, workerIndex: nil)))
        #expect(writer.flush(timeout: .seconds(10)))
        #expect(fileMode(path) == 0o640)
        #expect(FileManager.default.fileExists(atPath: path + "-wal"))
        #expect(fileMode(path + "-wal") == 0o640)
        #expect(fileMode(path + "-shm") == 0o640)
        store.close()
    }

    @Test func readersReadWhileTheWriterWrites() throws {
        let dir = TempDir()
        let (store, _) = try makeStore(dir)
        let writer = store.startWriter()
        let r = try reader(dir.file("h.db"))
        var seen = Set<Int>()
        for i in 0..<2000 {
            writer.record(HistEvent(time: ts(Int64(i)), program: "web", payload: .gaveUp(instance: nil, restarts: i, workerIndex: nil)))
            if i % 100 == 0 { seen.insert(try count(r, "SELECT count(*) FROM events WHERE kind = 5")) }
        }
        #expect(writer.flush(timeout: .seconds(20)))
        #expect(try count(r, "SELECT count(*) FROM events WHERE kind = 5") == 2000)
        #expect(!seen.isEmpty)
        // The reader is read-only.
        #expect(throws: DatabaseError.self) { try r.write { try $0.execute(sql: "DELETE FROM events") } }
        store.close()
    }
}
