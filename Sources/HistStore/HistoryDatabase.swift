import Foundation
import GRDB
import HistModel
#if canImport(Glibc)
import Glibc
#endif

// Why GRDB (7.10.0) rather than the C API through a system-library target:
// - `DatabaseMigrator` applies each embedded migration once, in order, in its own transaction, records it
//   in `grdb_migrations`, and tells us when a database holds migrations we don't know (`hasBeenSuperseded`),
//   which is exactly the "refuse a newer histd's database" rule;
// - `Configuration` gives read-only connections (SQLITE_OPEN_READONLY), busy timeouts and per-connection
//   setup (`prepareDatabase`) in one place; `DatabaseQueue` is one serialized connection (our single
//   writer), and readers open their own;
// - `cachedStatement` + `setUncheckedArguments` keep the hot path at prepared-statement speed (measured for the
//   project, release build, 1 M rows in one transaction: ~0.4 M rows/s, against ~70 k/s for the record API,
//   which we therefore avoid on the hot path);
// - errors arrive as `DatabaseError` with SQLite result codes, which the writer classifies (FULL, READONLY,
//   BUSY, IOERR) to decide between retrying and dropping.
// It builds against the system libsqlite3 (3.40.1 here: window functions, JSON1, RETURNING, UPSERT).

/// Opening the history database: file creation with safe permissions, connection settings, migrations,
/// and the checks that refuse files that are not (or not yet) histd databases.
public enum HistoryDatabase {
    /// Mode of a database file histd creates; SQLite gives its -wal and -shm files the same mode.
    /// 0640 because command lines and stderr tails can hold secrets.
    public static let fileMode: mode_t = 0o640
    /// Mode of a folder histd creates for the database.
    public static let directoryMode: Int = 0o750
    /// How long a write waits for a lock held by another connection (e.g. `histctl prune`, a sqlite3 shell)
    /// before failing with SQLITE_BUSY. The writer thread is the one that waits, never the engine.
    public static let busyTimeout: TimeInterval = 5

    /// The migration identifiers this binary knows (file names of `migrations/*.sql`), in order.
    public static var knownMigrations: [String] { BundledSQL.migrations.map(\.name).sorted() }

    /// The migrator: one migration per embedded file, identifier = file name, applied in name order.
    static func makeMigrator() -> DatabaseMigrator {
        var migrator = DatabaseMigrator()
        for (name, sql) in BundledSQL.migrations.sorted(by: { $0.name < $1.name }) {
            migrator.registerMigration(name) { db in try db.execute(sql: sql) }
        }
        return migrator
    }

    /// Configuration of the one write connection.
    static func writerConfiguration(label: String) -> Configuration {
        var config = Configuration()
        config.label = label
        config.journalMode = .wal
        config.busyMode = .timeout(busyTimeout)
        // Foreign keys are declared (they document the relations and sqlite3's tools show them) but not
        // enforced on the writer connection: enforcing them would make every DELETE of an instance or
        // program scan `events` (no index on events.instance_id/program_id, on purpose: it keeps event rows
        // small), and retention deliberately leaves events pointing at pruned rows (views use LEFT JOIN).
        // The single writer maintains the relations itself.
        config.foreignKeysEnabled = false
        config.prepareDatabase { db in
            // synchronous = NORMAL in WAL mode: a commit appends the transaction to the -wal file with
            // write(2) but does not fsync it. The bytes are then in the kernel's page cache, which
            // outlives the process: a transaction the writer has committed survives kill -9 (and any
            // crash) of histd, and the database is never corrupted. Only an OS crash or power loss can
            // lose the last commits since the previous checkpoint fsync. FULL would fsync on every commit
            // (measured with one commit per row: ~1.6 k commits/s against ~24 k/s with NORMAL)
            // and add milliseconds of latency to every
            // event under light load, to protect against power loss, which is not the promise we make.
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
            // Keep a checkpointed -wal file from staying large after a burst.
            try db.execute(sql: "PRAGMA journal_size_limit = 67108864")
        }
        return config
    }

    /// Configuration of a read-only connection (histctl, reports).
    public static func readerConfiguration(label: String = "histd-reader") -> Configuration {
        var config = Configuration()
        config.label = label
        config.readonly = true
        config.busyMode = .timeout(busyTimeout)
        return config
    }

    /// Opens (creating if needed, when `create` is true) the database for writing and applies pending
    /// migrations. Throws `HistoryStoreError` with a clear message when the path is a directory, not an
    /// SQLite file, a foreign SQLite database, or a newer histd's database.
    /// `ship`: histd's writer says whether it captures changes for histd-ship (`ShipCapture`); nil (tools
    /// such as `histd scan`, tests) follows the file: its connection captures too while capture is on, so
    /// no writer's change is missed, and the state is left as it is.
    static func openWriter(path: String, create: Bool, label: String = "histd-writer", ship: ShipCapture? = nil) throws -> DatabaseQueue {
        try checkPath(path, create: create)
        // Before the first write (the writer's configuration switches the file to WAL as it opens):
        // an existing file must be ours and not newer, checked on a read-only connection, so that a
        // file histd refuses is left byte-identical.
        try preflight(path)
        let dbQueue: DatabaseQueue
        do {
            dbQueue = try DatabaseQueue(path: path, configuration: writerConfiguration(label: label))
        } catch let error as DatabaseError {
            throw translate(error, path: path)
        }
        try validate(dbQueue, path: path, forWriting: true)
        let migrator = makeMigrator()
        do {
            try migrator.migrate(dbQueue)
        } catch let error as DatabaseError {
            throw HistoryStoreError(.migrationFailed, path: path, "applying migrations failed: \(error.message ?? "\(error)")")
        }
        do {
            try ShipCapture.apply(ship, dbQueue, now: Timestamp.now().milliseconds)
        } catch let error as DatabaseError {
            throw translate(error, path: path)
        }
        return dbQueue
    }

    /// Opens an existing history database read-only (SQLITE_OPEN_READONLY). Never creates anything.
    /// A newer histd's database is accepted when `allowNewerSchema` (readers only read; unknown tables are harmless).
    public static func openReadOnly(path: String, allowNewerSchema: Bool = true) throws -> DatabaseQueue {
        try checkPath(path, create: false)
        let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
        if size == 0 {
            throw HistoryStoreError(.notAHistoryDatabase, path: path, "is an empty file, not a histd history database")
        }
        let dbQueue: DatabaseQueue
        do {
            dbQueue = try DatabaseQueue(path: path, configuration: readerConfiguration())
        } catch let error as DatabaseError {
            throw translate(error, path: path)
        }
        try validate(dbQueue, path: path, forWriting: !allowNewerSchema)
        return dbQueue
    }

    // MARK: - Checks

    /// Refuses directories and non-SQLite files before SQLite sees them; creates the folder and an empty
    /// file with mode 0640 when `create` (so SQLite never creates the file with its default 0644).
    static func checkPath(_ path: String, create: Bool) throws {
        guard !path.isEmpty else { throw HistoryStoreError(.cannotOpen, path: path, "empty path") }
        if create {
            // The writer never follows a link for the database or its -wal/-shm: a root histd would
            // overwrite whatever a planted link points at with an SQLite file.
            for file in [path, path + "-wal", path + "-shm"] {
                var lst = stat()
                if lstat(file, &lst) == 0, (lst.st_mode & S_IFMT) == S_IFLNK {
                    throw HistoryStoreError(.unsafeFile, path: path, "cannot be used: \(file) is a symbolic link; histd never follows links for the files it writes (remove the link, or point db at the real file)")
                }
            }
        }
        var st = stat()
        if stat(path, &st) == 0 {
            if (st.st_mode & S_IFMT) == S_IFDIR {
                throw HistoryStoreError(.isDirectory, path: path, "is a directory, not a database file")
            }
            try checkHeader(path)
            return
        }
        let err = errno
        guard err == ENOENT else {
            throw HistoryStoreError(.cannotOpen, path: path, "cannot access: \(String(cString: strerror(err)))")
        }
        guard create else {
            throw HistoryStoreError(.missing, path: path, "does not exist")
        }
        let dir = (path as NSString).deletingLastPathComponent
        if !dir.isEmpty, !FileManager.default.fileExists(atPath: dir) {
            do {
                try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true,
                                                        attributes: [.posixPermissions: directoryMode])
            } catch {
                throw HistoryStoreError(.cannotOpen, path: path, "cannot create folder \(dir): \(error.localizedDescription)")
            }
        }
        // O_EXCL: if another process creates it first, we just use theirs. fchmod: the umask may have
        // removed bits we want or, more importantly, the caller's umask is irrelevant to the result.
        let fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, fileMode)
        if fd < 0 {
            let e = errno
            if e == EEXIST { return }
            throw HistoryStoreError(.cannotOpen, path: path, "cannot create: \(String(cString: strerror(e)))")
        }
        _ = fchmod(fd, fileMode)
        close(fd)
    }

    /// A non-empty file must start with SQLite's 16-byte magic header.
    static func checkHeader(_ path: String) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            let e = errno
            throw HistoryStoreError(.cannotOpen, path: path, "cannot open: \(String(cString: strerror(e)))")
        }
        defer { close(fd) }
        var header = [UInt8](repeating: 0, count: 16)
        let n = header.withUnsafeMutableBytes { read(fd, $0.baseAddress, 16) }
        if n == 0 { return } // empty: a new database (the writer initializes it; readers refuse it later)
        let magic = Array("SQLite format 3".utf8) + [0]
        if n != 16 || header != magic {
            throw HistoryStoreError(.notADatabase, path: path, "is not an SQLite database (no SQLite header)")
        }
    }

    /// The writer's checks (`validate(forWriting: true)`) on a read-only connection, for an existing,
    /// non-empty file. An SQLite file with no tables yet is accepted (the writer initializes it).
    static func preflight(_ path: String) throws {
        var st = stat()
        guard stat(path, &st) == 0, st.st_size > 0 else { return }
        let reader: DatabaseQueue
        do {
            reader = try DatabaseQueue(path: path, configuration: readerConfiguration(label: "histd-preflight"))
        } catch let error as DatabaseError {
            throw translate(error, path: path)
        }
        defer { try? reader.close() }
        try validate(reader, path: path, forWriting: true, allowEmpty: true)
    }

    /// Checks that the database is empty (new) or a histd database this binary can handle.
    static func validate(_ dbQueue: DatabaseQueue, path: String, forWriting: Bool, allowEmpty: Bool = false) throws {
        do {
            try dbQueue.inDatabase { db in
                let tables = try String.fetchAll(db, sql: """
                    SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name
                    """)
                if tables.isEmpty {
                    if !allowEmpty && (!forWriting || dbQueue.configuration.readonly) {
                        throw HistoryStoreError(.notAHistoryDatabase, path: path, "is an empty SQLite database, not a histd history database")
                    }
                    return
                }
                guard tables.contains("grdb_migrations"), tables.contains("events") else {
                    let shown = tables.prefix(5).joined(separator: ", ") + (tables.count > 5 ? ", ..." : "")
                    throw HistoryStoreError(.notAHistoryDatabase, path: path,
                                            "is an SQLite database but not a histd history database (tables: \(shown))")
                }
                let applied = try String.fetchAll(db, sql: "SELECT identifier FROM grdb_migrations ORDER BY identifier")
                let known = Set(knownMigrations)
                let unknown = applied.filter { !known.contains($0) }
                if !unknown.isEmpty, forWriting {
                    throw HistoryStoreError(.newerSchema, path: path, """
                        was written by a newer histd: its schema is at \(applied.last ?? "?") (unknown here: \
                        \(unknown.joined(separator: ", "))), but this histd knows only up to \(knownMigrations.last ?? "none"). \
                        Upgrade histd or use another database.
                        """)
                }
            }
        } catch let error as DatabaseError {
            throw translate(error, path: path)
        }
    }

    static func translate(_ error: DatabaseError, path: String) -> HistoryStoreError {
        switch error.resultCode {
        case .SQLITE_NOTADB:
            return HistoryStoreError(.notADatabase, path: path, "is not an SQLite database (\(error.message ?? "file is not a database"))")
        case .SQLITE_CANTOPEN:
            return HistoryStoreError(.cannotOpen, path: path, "cannot open: \(error.message ?? "unable to open database file")")
        default:
            return HistoryStoreError(.cannotOpen, path: path, "cannot open: \(error.message ?? "\(error)")")
        }
    }
}
