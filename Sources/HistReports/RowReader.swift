import Foundation
import GRDB
import GRDBSQLite
import HistModel

/// Reads a prepared statement's rows into report cells through the SQLite C API, on GRDB's statement
/// handle (arguments already bound by GRDB, inside GRDB's read).
///
/// Why: a postmortem reads ~100,000 cells (17,000 timeline events in a 1 h window of the 30-day
/// fixture); GRDB's row cursor builds a `DatabaseValue` per cell and checks each access, which cost as
/// much as SQLite's own work. Each cell is read by its column's `ColumnKind` (an INTEGER time column
/// becomes a `.time`, ...); text as GRDB reads it (`String(cString:)`, invalid UTF-8 repaired).
enum RowReader {
    static func rows(_ statement: Statement, _ db: Database, kinds: [ColumnKind]) throws -> [[ReportValue]] {
        let st = statement.sqliteStatement
        sqlite3_reset(st)
        defer { sqlite3_reset(st) }
        let n = Int32(kinds.count)
        var rows: [[ReportValue]] = []
        while true {
            let rc = sqlite3_step(st)
            if rc == SQLITE_DONE { break }
            guard rc == SQLITE_ROW else {
                throw DatabaseError(resultCode: ResultCode(rawValue: rc), message: db.sqliteConnection.map { String(cString: sqlite3_errmsg($0)) },
                                    sql: statement.sql)
            }
            var row: [ReportValue] = []
            row.reserveCapacity(Int(n))
            for i in 0..<n { row.append(cell(st, i, kinds[Int(i)])) }
            rows.append(row)
        }
        return rows
    }

    @inline(__always) static func cell(_ st: OpaquePointer, _ i: Int32, _ kind: ColumnKind) -> ReportValue {
        switch sqlite3_column_type(st, i) {
        case SQLITE_INTEGER:
            let n = sqlite3_column_int64(st, i)
            switch kind {
            case .time: return .time(Timestamp(milliseconds: n))
            case .bool: return .bool(n != 0)
            case .signal: return .text(SignalName.name(Int32(truncatingIfNeeded: n)))
            case .auto, .signalList, .seconds: return .integer(n)
            }
        case SQLITE_FLOAT:
            let d = sqlite3_column_double(st, i)
            if kind == .time { return .time(Timestamp(milliseconds: Int64(d))) }
            return .real(d)
        case SQLITE_TEXT:
            let s = String(cString: sqlite3_column_text(st, i))
            if kind == .signalList {
                return .text(s.split(separator: ",").map { Int32($0).map(SignalName.name) ?? String($0) }.joined(separator: ","))
            }
            return .text(s)
        case SQLITE_BLOB:
            guard let bytes = sqlite3_column_blob(st, i) else { return .text("x''") }
            let data = Data(bytes: bytes, count: Int(sqlite3_column_bytes(st, i)))
            return .text("x'" + data.map { String(format: "%02x", $0) }.joined() + "'")
        default:
            return .null
        }
    }
}
