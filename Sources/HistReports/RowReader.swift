import Foundation
import GRDB
import GRDBSQLite
import HistModel

/// Reads a prepared statement's rows straight into `ReportValue`s through the SQLite C API.
///
/// Why not GRDB's `Row` cursor: for a day's crash listing (67,524 rows x 10 columns) building a `Row`,
/// a `DatabaseValue` per cell and then the `ReportValue` cost about as much as SQLite's own work. Here
/// each cell is read once, by type, into its final value. Text is read with its length, so a value with
/// an embedded NUL (a stderr tail can hold one; the writer stores it whole) is read whole, where
/// `String(cString:)` stopped at the NUL.
enum RowReader {
    /// Every row of `statement` (its arguments already bound), reading `kinds.count` columns (a missing
    /// column reads as NULL). Throws a `DatabaseError` with SQLite's code when a step fails.
    static func rows(_ statement: Statement, _ db: Database, kinds: [ColumnKind]) throws -> [[ReportValue]] {
        let h = statement.sqliteStatement
        sqlite3_reset(h)
        defer { sqlite3_reset(h) }
        let available = Int(sqlite3_column_count(h))
        var rows: [[ReportValue]] = []
        while true {
            let rc = sqlite3_step(h)
            if rc == SQLITE_DONE { break }
            guard rc == SQLITE_ROW else {
                let message = sqlite3_errmsg(db.sqliteConnection).map { String(cString: $0) }
                throw DatabaseError(resultCode: ResultCode(rawValue: rc), message: message, sql: statement.sql)
            }
            var row: [ReportValue] = []
            row.reserveCapacity(kinds.count)
            for i in 0..<kinds.count {
                row.append(i < available ? value(h, Int32(i), as: kinds[i]) : .null)
            }
            rows.append(row)
        }
        return rows
    }

    /// One cell, as `ReportDatabase.read` reads a `DatabaseValue` (the same rules per kind).
    @inline(__always)
    static func value(_ h: OpaquePointer, _ i: Int32, as kind: ColumnKind) -> ReportValue {
        switch sqlite3_column_type(h, i) {
        case SQLITE_NULL:
            return .null
        case SQLITE_INTEGER:
            let n = sqlite3_column_int64(h, i)
            switch kind {
            case .time: return .time(Timestamp(milliseconds: n))
            case .bool: return .bool(n != 0)
            case .signal: return .text(SignalName.name(Int32(truncatingIfNeeded: n)))
            case .auto, .signalList, .seconds: return .integer(n)
            }
        case SQLITE_FLOAT:
            let d = sqlite3_column_double(h, i)
            if kind == .time { return .time(Timestamp(milliseconds: Int64(d))) }
            return .real(d)
        case SQLITE_TEXT:
            let count = Int(sqlite3_column_bytes(h, i))
            let s: String = if let p = sqlite3_column_text(h, i) {
                String(decoding: UnsafeBufferPointer(start: p, count: count), as: UTF8.self)
            } else { "" }
            if kind == .signalList {
                return .text(s.split(separator: ",").map { Int32($0).map(SignalName.name) ?? String($0) }.joined(separator: ","))
            }
            return .text(s)
        default: // SQLITE_BLOB
            let count = Int(sqlite3_column_bytes(h, i))
            guard let p = sqlite3_column_blob(h, i) else { return .text("x''") }
            let bytes = UnsafeRawBufferPointer(start: p, count: count)
            let hex = Array("0123456789abcdef".utf8)
            var out: [UInt8] = [UInt8(ascii: "x"), UInt8(ascii: "'")]
            out.reserveCapacity(count * 2 + 3)
            for b in bytes { out.append(hex[Int(b >> 4)]); out.append(hex[Int(b & 15)]) }
            out.append(UInt8(ascii: "'"))
            return .text(String(decoding: out, as: UTF8.self))
        }
    }
}
