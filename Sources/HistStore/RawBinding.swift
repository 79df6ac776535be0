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

    @inline(__always) func bind(_ i: Int32, _ v: Int64?) {
        if let v { sqlite3_bind_int64(handle, i, v) } else { sqlite3_bind_null(handle, i) }
    }

    @inline(__always) func bind(_ i: Int32, _ v: Int64) { sqlite3_bind_int64(handle, i, v) }

    func bind(_ i: Int32, _ v: String?) {
        guard let v else { sqlite3_bind_null(handle, i); return }
        let length = Int32(v.utf8.count) // explicit length: embedded NULs are kept
        v.withCString { p in
            // SQLITE_TRANSIENT: SQLite copies the bytes before this returns.
            _ = sqlite3_bind_text(handle, i, p, length, unsafeBitCast(-1, to: sqlite3_destructor_type.self))
        }
    }

    /// Steps once (an INSERT) and resets; throws a `DatabaseError` with SQLite's code and message.
    func run() throws {
        let rc = sqlite3_step(handle)
        sqlite3_reset(handle)
        guard rc == SQLITE_DONE else {
            let message = sqlite3_errmsg(db.sqliteConnection).map { String(cString: $0) }
            throw DatabaseError(resultCode: ResultCode(rawValue: rc), message: message, sql: sqlite3_sql(handle).map { String(cString: $0) })
        }
    }
}
