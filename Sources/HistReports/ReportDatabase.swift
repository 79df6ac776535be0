import CSQLiteGuard
import Foundation
import GRDB
import GRDBSQLite
import HistModel
import HistStore

/// A history database opened for reading only: the store's `HistoryDatabase.openReadOnly` (SQLITE_OPEN_READONLY,
/// never creates anything, refuses directories, non-SQLite files and foreign databases) plus
/// `PRAGMA query_only = ON`. Opening never creates or modifies a file; every way a path can be wrong gives
/// a `ReportError` that names the path and the problem. A newer histd's database is read (readers only
/// read; tables they don't know are harmless).
public final class ReportDatabase: Sendable {
    public let path: String
    let queue: DatabaseQueue
    /// Tables an older histd's database lacks, with their read-only stand-ins (SchemaStandIns).
    let standIns: SchemaStandIns
    /// CLOCK_MONOTONIC ns after which the progress handler interrupts the running statement; 0 = none.
    /// Written only around a statement on the calling thread (`withTimeout`), read by SQLite on the same one.
    nonisolated(unsafe) let deadline: UnsafeMutablePointer<UInt64> = {
        let p = UnsafeMutablePointer<UInt64>.allocate(capacity: 1)
        p.initialize(to: 0)
        return p
    }()

    /// Opens `path` after checking that it is a non-empty, complete SQLite file with histd's tables.
    public init(path: String) throws(ReportError) {
        self.path = path
        // The store does not look for truncation (a copied or half-written file); SQLite would only say
        // "malformed" later, in the middle of a report.
        try Self.checkTruncation(path)
        do {
            queue = try HistoryDatabase.openReadOnly(path: path, allowNewerSchema: true)
        } catch let e as HistoryStoreError {
            throw Self.reportError(e)
        } catch {
            throw ReportError(.cannotOpen, "cannot read \(path): \(error)")
        }
        do {
            // Before query_only: the stand-ins are TEMP views on this connection (never in the file).
            standIns = try queue.inDatabase { try SchemaStandIns.install($0) }
        } catch {
            throw Self.openError(path, error)
        }
        do {
            // One connection (DatabaseQueue): the pragma holds for every later statement. A second guard
            // besides SQLITE_OPEN_READONLY, e.g. for statements SQLite would run against a temp schema.
            try queue.inDatabase {
                try $0.execute(sql: "PRAGMA query_only = ON")
                // A report reads a window's events, instances and snapshots through several indexes at once
                // (the postmortem: ~17,000 events with their instances in a 1 h window of the 30-day
                // fixture). SQLite's default 2 MiB cache evicted interior pages between those lookups and
                // read them again (half the timeline query's time was pread). Pages are allocated only as read.
                try $0.execute(sql: "PRAGMA cache_size = -\(Self.pageCacheKiB)")
                // Every histctl run is a new process with an empty page cache, so each page a report read
                // was a pread copy into a freshly zero-filled cache slot (2,361 of them for `status` on the
                // 30-day fixture: a third of its time was in the kernel). Mapped, the pages come straight
                // from the kernel's page cache. Safe here: the connection only reads, and in WAL mode the
                // file shrinks only at a checkpoint no reader still needs.
                try $0.execute(sql: "PRAGMA mmap_size = \(Self.mmapBytes)")
                // queries/loops.sql finds crash loops with this, in one pass per program.
                $0.add(function: CrashLoopAggregate.function)
                $0.add(function: CrashLoopAggregate.partFunction)
                // `histctl sql` runs statements from outside: defensive mode (no writable_schema, no
                // shadow-table writes), no load_extension, and no fts3_tokenizer(), whose one-argument
                // form returns a pointer (an address leak) and whose two-argument form installs one.
                if let handle = $0.sqliteConnection {
                    let raw = UnsafeMutableRawPointer(handle)
                    let rc = histd_sqlite_harden(raw)
                    if rc != 0 { throw DatabaseError(resultCode: ResultCode(rawValue: rc), message: "cannot enable SQLite's defensive mode") }
                    histd_sqlite_install_deadline(raw, deadline)
                    // GRDB keeps an authorizer on every connection: SQLite calls it for each table and column
                    // a statement reads while it is prepared, and GRDB builds the statement's DatabaseRegion
                    // from them (with a String and a set union per call), for change observation. A report
                    // connection observes nothing and only reads, and a report statement expands views into
                    // thousands of column reads: it was 13 % of a `histctl loops --since 30d` run (~8 ms).
                    // What GRDB then lacks is what the authorizer reports: regions (observation, unused here),
                    // schema changes (none: query_only, and the stand-ins are installed above) and transaction
                    // effects, which feed transaction observers (none here; GRDB's own transaction handling
                    // asks sqlite3_get_autocommit). The whole test suite reads through such connections.
                    sqlite3_set_authorizer(handle, nil, nil)
                }
                for arity in [1, 2] {
                    $0.add(function: DatabaseFunction("fts3_tokenizer", argumentCount: arity, pure: false) { _ in
                        throw DatabaseError(message: "fts3_tokenizer() is disabled in histctl")
                    })
                }
            }
        } catch {
            throw Self.openError(path, error)
        }
    }

    /// A note for stderr when the database predates migrations the reports read (an older histd wrote it
    /// and none has migrated it since): the reports then work from raw rows, more slowly. nil otherwise.
    public var schemaNote: String? { standIns.note(path: path) }

    /// Whether `loop_hours` (migrations/0011_loop_rollups.sql) is a real table here.
    var hasLoopRollup: Bool { !standIns.missing.contains { $0.table == "loop_hours" } }

    /// Whether `loop_days` and `program_days` (migrations/0015_day_rollups.sql) are real tables here.
    var hasDayRollups: Bool { !standIns.missing.contains { $0.table == "loop_days" || $0.table == "program_days" } }

    /// Whether `restart_minutes` (migrations/0014_restart_minutes.sql) is a real table here.
    var hasRestartRollup: Bool { !standIns.missing.contains { $0.table == "restart_minutes" } }

    /// histctl's wording for the store's open errors (the store's codes, one message style for histctl).
    static func reportError(_ e: HistoryStoreError) -> ReportError {
        let path = e.path
        switch e.code {
        case .missing:
            return ReportError(.missingDatabase, "no history database at \(path) (histctl never creates one; is histd recording there? use --db PATH or $HISTD_DB)")
        case .isDirectory:
            return ReportError(.notAFile, "\(path) is a directory, not a history database")
        case .notADatabase:
            return ReportError(.notSQLite, "\(path) is not an SQLite database (it does not start with the SQLite header)")
        case .notAHistoryDatabase:
            var st = stat()
            if stat(path, &st) == 0, st.st_size == 0 {
                return ReportError(.emptyFile, "\(path) is empty (0 bytes), not a history database")
            }
            return ReportError(.notHistd, "\(path) \(e.message.replacingOccurrences(of: "histd history database", with: "histd history"))")
        case .newerSchema:
            return ReportError(.notHistd, "\(path) \(e.message)")
        case .cannotOpen, .unsafeFile, .migrationFailed, .writeFailed:
            if e.message.contains("malformed") || e.message.contains("not a database") {
                return ReportError(.corrupt, "\(path) is damaged: \(e.message)")
            }
            var st = stat()
            if stat(path, &st) == 0, (st.st_mode & S_IFMT) != S_IFREG {
                return ReportError(.notAFile, "\(path) is not a regular file, not a history database")
            }
            let dir = (path as NSString).deletingLastPathComponent
            if !FileManager.default.fileExists(atPath: path + "-shm"), access(dir.isEmpty ? "." : dir, W_OK) != 0 {
                return ReportError(.cannotOpen, """
                    cannot open \(path) read-only: \(e.message). A database in WAL mode needs \(path)-shm to exist or its \
                    folder \(dir.isEmpty ? "." : dir) to be writable; run histctl as a user who can write that folder \
                    (e.g. the user histd runs as)
                    """)
            }
            return ReportError(.cannotOpen, "cannot open \(path) read-only: \(e.message)")
        }
    }

    /// A regular file with the SQLite header whose size disagrees with its header is truncated. Anything
    /// else (missing, directory, empty, not SQLite) is left to the store's checks.
    static func checkTruncation(_ path: String) throws(ReportError) {
        var st = stat()
        guard stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG, st.st_size > 0,
              let fh = FileHandle(forReadingAtPath: path) else { return }
        defer { try? fh.close() }
        let header = [UInt8]((try? fh.read(upToCount: 100)) ?? Data())
        guard header.count >= 16, Array(header[0..<16]) == Array("SQLite format 3\0".utf8) else { return }
        guard header.count == 100 else { throw ReportError(.truncated, "\(path) is truncated: its SQLite header is incomplete") }
        func be32(_ o: Int) -> UInt32 { header[o..<(o + 4)].reduce(0) { $0 << 8 | UInt32($1) } }
        let rawPage = Int(header[16]) << 8 | Int(header[17])
        let pageSize = rawPage == 1 ? 65536 : rawPage
        // The in-header page count is valid when the "version-valid-for" number equals the change counter.
        let pages = Int64(be32(28))
        if pageSize >= 512, be32(92) == be32(24), pages > 0, Int64(st.st_size) < pages * Int64(pageSize) {
            throw ReportError(.truncated, "\(path) is truncated: \(st.st_size) bytes, but its header says \(pages) pages of \(pageSize) bytes")
        }
        if pageSize >= 512, Int64(st.st_size) % Int64(pageSize) != 0 {
            throw ReportError(.truncated, "\(path) is truncated or damaged: its size \(st.st_size) is not a multiple of its page size \(pageSize)")
        }
    }

    static func openError(_ path: String, _ error: any Error) -> ReportError {
        if let e = error as? DatabaseError {
            switch e.resultCode {
            case .SQLITE_CORRUPT, .SQLITE_NOTADB:
                return ReportError(.corrupt, "\(path) is damaged: \(e.message ?? "\(e.resultCode)")")
            default:
                return ReportError(.cannotOpen, "cannot read \(path): \(e.message ?? "\(e.resultCode)")")
            }
        }
        return ReportError(.cannotOpen, "cannot read \(path): \(error)")
    }

    deinit { deadline.deallocate() }

    /// Whether SQLite's defensive mode is on for this connection (it always is; for tests).
    public var isDefensive: Bool {
        (try? queue.inDatabase { db in db.sqliteConnection.map { histd_sqlite_is_defensive(UnsafeMutableRawPointer($0)) == 1 } ?? false }) ?? false
    }

    /// Runs `body` with a deadline: a statement still running `timeout` from now is interrupted
    /// (SQLite's progress handler), and the error says so. nil = no deadline.
    public func withTimeout<T>(_ timeout: Duration?, _ body: () throws(ReportError) -> T) throws(ReportError) -> T {
        guard let timeout, timeout > .zero else { return try body() }
        let (s, attos) = timeout.components
        let ns = UInt64(max(0, s)) * 1_000_000_000 + UInt64(max(0, attos) / 1_000_000_000)
        deadline.pointee = histd_sqlite_monotonic_ns() + ns
        defer { deadline.pointee = 0 }
        do {
            return try body()
        } catch {
            if histd_sqlite_monotonic_ns() > deadline.pointee, error.message.contains("interrupt") {
                throw ReportError(.queryFailed, "the statement was interrupted after \(HistDuration.format(timeout)) (--timeout); narrow it with WHERE/LIMIT or give a longer --timeout")
            }
            throw error
        }
    }

    /// The page cache report connections open with (KiB).
    static let pageCacheKiB = 65_536

    /// How much of the file report connections map (SQLite caps it at its SQLITE_MAX_MMAP_SIZE, 2 GiB in
    /// Debian's build). Address space only: pages count towards RSS as they are read, and are shared with
    /// the kernel's page cache.
    static let mmapBytes = 2_147_418_112

    /// Runs `body` with a page cache of `kib` KiB instead, for reports that read each page once (status,
    /// breaches): SQLite allocates a cache slot per page it cannot take from the mapping (`mmapBytes`: WAL
    /// frames of a live history, and every page when the mapping is unavailable) until the cache is full, so
    /// with 64 MiB each is a fresh page the kernel zero-fills (measured before the mapping: 6,500 page faults,
    /// +12 ms CPU for the day's breaches on the 30-day fixture); a small cache reuses its slots.
    func withPageCache<T>(kib: Int, _ body: () throws(ReportError) -> T) throws(ReportError) -> T {
        func set(_ k: Int) { _ = try? queue.inDatabase { try $0.execute(sql: "PRAGMA cache_size = -\(k)") } }
        set(kib)
        defer { set(Self.pageCacheKiB) }
        return try body()
    }

    /// Runs the embedded query `queries/NAME.sql` with named arguments and reads the declared columns.
    public func run(query name: String, arguments: [String: (any DatabaseValueConvertible)?], columns: [ReportColumn]) throws(ReportError) -> ReportResult {
        guard let sql = BundledSQL.query(name) else { throw ReportError(.missingQuery, "query \(name).sql is not built into histctl") }
        return try run(sql: standIns.adapt(sql), arguments: arguments, columns: columns, label: name)
    }

    /// Runs `sql` with named arguments. `columns` nil = take the statement's columns, values as SQLite returns them.
    public func run(sql: String, arguments: [String: (any DatabaseValueConvertible)?] = [:], columns: [ReportColumn]?, label: String) throws(ReportError) -> ReportResult {
        try withStatement(sql: sql, arguments: arguments, label: label) { statement, db in
            let cols = columns ?? statement.columnNames.map { ReportColumn($0) }
            return ReportResult(columns: cols, rows: try RowReader.rows(statement, db, kinds: cols.map(\.kind)))
        }
    }

    /// The embedded query `queries/NAME.sql` prepared with named arguments, for `body` to step (as `run`
    /// does; `ListingBytes` writes the rows as bytes instead), with `run`'s errors.
    func withStatement<T>(query name: String, arguments: [String: (any DatabaseValueConvertible)?],
                          _ body: (Statement, Database) throws -> T) throws(ReportError) -> T {
        guard let sql = BundledSQL.query(name) else { throw ReportError(.missingQuery, "query \(name).sql is not built into histctl") }
        return try withStatement(sql: standIns.adapt(sql), arguments: arguments, label: name, body)
    }

    func withStatement<T>(sql: String, arguments: [String: (any DatabaseValueConvertible)?], label: String,
                          _ body: (Statement, Database) throws -> T) throws(ReportError) -> T {
        do {
            return try queue.read { db in
                let statement = try db.makeStatement(sql: sql)
                // Extra named values are ignored by GRDB, so one argument set can serve several queries.
                if !arguments.isEmpty { statement.arguments = StatementArguments(arguments) }
                return try body(statement, db)
            }
        } catch let e as DatabaseError {
            if e.resultCode == .SQLITE_CORRUPT || e.resultCode == .SQLITE_NOTADB {
                throw ReportError(.corrupt, "\(path) is damaged: \(e.message ?? "\(e.resultCode)")")
            }
            if e.resultCode == .SQLITE_READONLY {
                throw ReportError(.readOnlyRefused, "histctl sql is read-only: \(e.message ?? "writes are refused")")
            }
            throw ReportError(.queryFailed, "\(label): \(e.message ?? "\(e)")")
        } catch {
            throw ReportError(.queryFailed, "\(label): \(error)")
        }
    }

    /// Runs a closure with the read-only connection (for EXPLAIN and schema listings).
    public func read<T>(_ body: (Database) throws -> T) throws(ReportError) -> T {
        do {
            return try queue.read(body)
        } catch let e as DatabaseError {
            throw ReportError(.queryFailed, e.message ?? "\(e)")
        } catch {
            throw ReportError(.queryFailed, "\(error)")
        }
    }

    /// The column handling of `run`, for rows read from elsewhere (the fleet reports, HistFleet): the same
    /// conversions as `RowReader.cell`, from a GRDB value instead of a statement column.
    public static func reportValue(_ v: DatabaseValue, as kind: ColumnKind) -> ReportValue {
        switch v.storage {
        case .null: return .null
        case .int64(let n): return RowReader.integer(n, as: kind)
        case .double(let d): return RowReader.real(d, as: kind)
        case .string(let s): return RowReader.text(s, as: kind)
        case .blob(let data): return .text("x'" + data.map { String(format: "%02x", $0) }.joined() + "'")
        }
    }
}
