import Foundation
import GRDB
import GRDBSQLite
import HistModel

/// Reads a prepared statement's rows into report cells through the SQLite C API, on GRDB's statement
/// handle (arguments already bound by GRDB, inside GRDB's read).
///
/// Why: a postmortem reads ~100,000 cells (17,000 timeline events in a 1 h window of the 30-day
/// fixture) and a day's crash listing 67,524 rows x 12 columns; GRDB's row cursor builds a
/// `DatabaseValue` per cell and checks each access, which cost as much as SQLite's own work. Each cell is
/// read by its column's `ColumnKind` (an INTEGER time column becomes a `.time`, ...). Text is read with
/// its length (invalid UTF-8 repaired, as GRDB does), so a value with an embedded NUL (a stderr tail can
/// hold one; the writer stores it whole) is read whole, where `String(cString:)` stopped at the NUL.
/// Listings that write bytes without building cells step the statement with `forEach` and read what they
/// need themselves (`ListingBytes`).
enum RowReader {
    /// Every row of `statement`, reading `kinds.count` columns (a column the statement lacks reads as NULL).
    static func rows(_ statement: Statement, _ db: Database, kinds: [ColumnKind]) throws -> [[ReportValue]] {
        var rows: [[ReportValue]] = []
        let n = Int32(kinds.count)
        try forEach(statement, db) { st in
            let available = sqlite3_column_count(st)
            var row: [ReportValue] = []
            row.reserveCapacity(Int(n))
            for i in 0..<n { row.append(i < available ? cell(st, i, kinds[Int(i)]) : .null) }
            rows.append(row)
        }
        return rows
    }

    /// Steps `statement` (its arguments already bound) to its end, calling `body` with the SQLite handle
    /// on each row. Throws a `DatabaseError` with SQLite's code when a step fails.
    static func forEach(_ statement: Statement, _ db: Database, _ body: (OpaquePointer) throws -> Void) throws {
        let st = statement.sqliteStatement
        sqlite3_reset(st)
        defer { sqlite3_reset(st) }
        while true {
            let rc = sqlite3_step(st)
            if rc == SQLITE_DONE { break }
            guard rc == SQLITE_ROW else {
                throw DatabaseError(resultCode: ResultCode(rawValue: rc), message: db.sqliteConnection.map { String(cString: sqlite3_errmsg($0)) },
                                    sql: statement.sql)
            }
            try body(st)
        }
    }

    /// An INTEGER cell as the report value its column kind asks for.
    @inline(__always) static func integer(_ n: Int64, as kind: ColumnKind) -> ReportValue {
        switch kind {
        case .time: return .time(Timestamp(milliseconds: n))
        case .bool: return .bool(n != 0)
        case .signal: return .text(SignalName.name(Int32(truncatingIfNeeded: n)))
        case .auto, .signalList, .seconds: return .integer(n)
        }
    }

    /// A REAL cell as the report value its column kind asks for.
    @inline(__always) static func real(_ d: Double, as kind: ColumnKind) -> ReportValue {
        kind == .time ? .time(Timestamp(milliseconds: Int64(d))) : .real(d)
    }

    /// A TEXT cell as the report value its column kind asks for (a signal list's numbers become names).
    @inline(__always) static func text(_ s: String, as kind: ColumnKind) -> ReportValue {
        guard kind == .signalList else { return .text(s) }
        return .text(s.split(separator: ",").map { Int32($0).map(SignalName.name) ?? String($0) }.joined(separator: ","))
    }

    @inline(__always) static func cell(_ st: OpaquePointer, _ i: Int32, _ kind: ColumnKind) -> ReportValue {
        switch sqlite3_column_type(st, i) {
        case SQLITE_INTEGER: return integer(sqlite3_column_int64(st, i), as: kind)
        case SQLITE_FLOAT: return real(sqlite3_column_double(st, i), as: kind)
        case SQLITE_TEXT: return text(text(st, i), as: kind)
        case SQLITE_BLOB:
            let count = Int(sqlite3_column_bytes(st, i))
            guard let p = sqlite3_column_blob(st, i) else { return .text("x''") }
            var out: [UInt8] = [UInt8(ascii: "x"), UInt8(ascii: "'")]
            out.reserveCapacity(count * 2 + 3)
            for b in UnsafeRawBufferPointer(start: p, count: count) { out.append(hex[Int(b >> 4)]); out.append(hex[Int(b & 15)]) }
            out.append(UInt8(ascii: "'"))
            return .text(String(decoding: out, as: UTF8.self))
        default:
            return .null
        }
    }

    /// A TEXT cell's bytes (its whole length; valid until the next step or column read of another type).
    /// Empty for a NULL pointer (out of memory in SQLite's conversion reads as no text).
    @inline(__always) static func utf8(_ st: OpaquePointer, _ i: Int32) -> UnsafeBufferPointer<UInt8> {
        // sqlite3_column_text before sqlite3_column_bytes: the documented order for a length in UTF-8.
        guard let p = sqlite3_column_text(st, i) else { return UnsafeBufferPointer(start: nil, count: 0) }
        return UnsafeBufferPointer(start: p, count: Int(sqlite3_column_bytes(st, i)))
    }

    /// A TEXT cell as a String (invalid UTF-8 repaired with U+FFFD).
    @inline(__always) static func text(_ st: OpaquePointer, _ i: Int32) -> String {
        String(decoding: utf8(st, i), as: UTF8.self)
    }

    private static let hex: [UInt8] = Array("0123456789abcdef".utf8)
}
