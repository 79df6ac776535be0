import GRDB
import GRDBSQLite

/// One prepared INSERT of the fixture generator, bound and stepped through the sqlite3 C API on GRDB's
/// statement handle, inside GRDB's transaction.
///
/// Why not `Statement.execute(arguments:)`: the 30-day fixture is ~22 M inserts, and building
/// `StatementArguments` (an array of existentials) plus GRDB's per-execute checks cost more CPU than
/// SQLite's own insert work (a profile of the generator showed them at about half its time). HistStore's
/// writer does the same for the same reason (RawBinding.swift, internal to HistStore).
struct FixtureInsert {
    let statement: Statement
    let db: Database
    private var handle: OpaquePointer { statement.sqliteStatement }

    init(_ db: Database, sql: String) throws {
        self.db = db
        self.statement = try db.makeStatement(sql: sql)
    }

    /// SQLITE_TRANSIENT: SQLite copies the bytes before the bind call returns.
    private static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

    @inline(__always) func bind(_ i: Int32, _ v: Int64?) {
        if let v { sqlite3_bind_int64(handle, i, v) } else { sqlite3_bind_null(handle, i) }
    }

    @inline(__always) func bind(_ i: Int32, _ v: Int64) { sqlite3_bind_int64(handle, i, v) }

    func bind(_ i: Int32, _ v: String?) {
        guard var v else { sqlite3_bind_null(handle, i); return }
        v.withUTF8 { bytes in
            // Never empty here (the generator binds no empty text), so the buffer has an address.
            _ = sqlite3_bind_text(handle, i, UnsafeRawPointer(bytes.baseAddress!).assumingMemoryBound(to: CChar.self),
                                  Int32(bytes.count), FixtureInsert.transient)
        }
    }

    /// Steps once and resets; throws SQLite's error as a `DatabaseError`.
    func run() throws {
        let rc = sqlite3_step(handle)
        sqlite3_reset(handle)
        guard rc == SQLITE_DONE else {
            let message = sqlite3_errmsg(db.sqliteConnection).map { String(cString: $0) }
            throw DatabaseError(resultCode: ResultCode(rawValue: rc), message: message, sql: statement.sql)
        }
    }
}
