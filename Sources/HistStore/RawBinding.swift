import GRDB
import GRDBSQLite

/// The hot path's inserts bind and step through the SQLite C API on GRDB's cached statement handle.
///
/// Why: in a release build, building `StatementArguments` (an array of existentials) and GRDB's
/// per-execute checks cost more than SQLite's own insert work; binding directly more than doubles the
/// writer's events/s. The statements still come from GRDB's cache and run inside GRDB's transaction.
struct RawInsert {
    let handle: OpaquePointer
    let db: Database

    init(_ statement: Statement, _ db: Database) {
        self.handle = statement.sqliteStatement
        self.db = db
    }

    /// SQLITE_TRANSIENT: SQLite copies the bytes before the bind call returns.
    static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
    /// A C "" that lives forever (never written to).
    nonisolated(unsafe) static let emptyText: UnsafePointer<CChar> = {
        let p = UnsafeMutablePointer<CChar>.allocate(capacity: 1)
        p.pointee = 0
        return UnsafePointer(p)
    }()

    @inline(__always) func bind(_ i: Int32, _ v: Int64?) {
        if let v { sqlite3_bind_int64(handle, i, v) } else { sqlite3_bind_null(handle, i) }
    }

    @inline(__always) func bind(_ i: Int32, _ v: Int64) { sqlite3_bind_int64(handle, i, v) }

    @inline(__always) func bind(_ i: Int32, _ v: Int32?) { bind(i, v.map(Int64.init)) }

    @inline(__always) func bind(_ i: Int32, _ v: Int?) { bind(i, v.map(Int64.init)) }

    func bind(_ i: Int32, _ v: String?) {
        guard var v else { sqlite3_bind_null(handle, i); return }
        // Explicit length: embedded NULs are kept. A native String is contiguous UTF-8 already; a bridged
        // or foreign one is made contiguous once here.
        v.withUTF8 { p in
            bindText(i, p)
        }
    }

    /// Binds UTF-8 bytes as TEXT (copied by SQLite).
    @inline(__always) func bindText(_ i: Int32, _ bytes: UnsafeBufferPointer<UInt8>) {
        // An empty buffer may have no address, and a NULL pointer would bind SQL NULL, not ''.
        let p = bytes.baseAddress.map { UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self) } ?? RawInsert.emptyText
        _ = sqlite3_bind_text(handle, i, p, Int32(bytes.count), RawInsert.transient)
    }

    /// Binds UTF-8 bytes as TEXT without copying them (SQLITE_STATIC): the caller keeps `bytes` alive and
    /// unchanged until the statement has run, and clears or rebinds the parameter before freeing them.
    @inline(__always) func bindTextNoCopy(_ i: Int32, _ bytes: UnsafeBufferPointer<UInt8>) {
        let p = bytes.baseAddress.map { UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self) } ?? RawInsert.emptyText
        _ = sqlite3_bind_text(handle, i, p, Int32(bytes.count), nil) // nil destructor = SQLITE_STATIC
    }

    @inline(__always) func bindNull(_ i: Int32) { sqlite3_bind_null(handle, i) }

    /// Steps once (an INSERT or UPDATE) and resets; throws a `DatabaseError` with SQLite's code and message.
    func run() throws {
        let rc = sqlite3_step(handle)
        sqlite3_reset(handle)
        guard rc == SQLITE_DONE else {
            let message = sqlite3_errmsg(db.sqliteConnection).map { String(cString: $0) }
            throw DatabaseError(resultCode: ResultCode(rawValue: rc), message: message, sql: sqlite3_sql(handle).map { String(cString: $0) })
        }
    }

    /// The rowid of the last row inserted on this connection. Straight from SQLite: GRDB's
    /// `lastInsertedRowID` also checks which dispatch queue it runs on, which costs more than the call.
    @inline(__always) var lastRowID: Int64 { sqlite3_last_insert_rowid(db.sqliteConnection) }

    /// Rows changed by the last statement.
    @inline(__always) var changes: Int32 { sqlite3_changes(db.sqliteConnection) }
}
