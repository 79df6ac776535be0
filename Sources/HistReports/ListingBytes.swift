import GRDB
import GRDBSQLite
import HistModel

/// A whole listing as CSV or JSON, written from a statement's cells straight into one byte arena, one line
/// per row as the rows come, then put in order by keys the statement returns after the shown columns.
///
/// Why: a day's crash listing is 67,524 rows. Read into `[[ReportValue]]` first, a row array and a String
/// per text cell were built, sorted, rendered and freed again (about a third of histctl's CPU for that
/// listing, beside SQLite's own work). Here each cell goes from `sqlite3_column_*` to its bytes; ASCII text
/// is copied as it is, anything else goes through a String (as `RowReader` reads it) so that the bytes are
/// the same. Only the 67 k keys are sorted. The result is byte for byte
/// `Renderer.bytes(ReportResult(columns: shown, rows: rows in key order), as: format)`.
struct ListingBytes {
    /// The columns written (the statement's first `columns.count`).
    let columns: [ReportColumn]
    let format: OutputFormat

    /// One row's line in the arena and its order: (column 0 as a time, then the two integer columns after
    /// the shown ones), as `Reports.inOrder` reads them (.min where a key is not a number).
    private struct Line {
        var time: Int64
        var source: Int64
        var seq: Int64
        var start: Int
        var end: Int
    }

    /// nil for formats other than CSV and JSON.
    init?(columns: [ReportColumn], format: OutputFormat) {
        guard format == .csv || format == .json else { return nil }
        self.columns = columns
        self.format = format
    }

    /// Every row of `statement` (arguments bound), the document in key order, and the row count.
    func build(_ statement: Statement, _ db: Database) throws -> (bytes: [UInt8], rows: Int) {
        // 32 MiB reserved up front is address space only (pages are touched as they are written), and the
        // arena never moves: grown by doubling from 1 MiB, a 6.6 MB listing copied ~7 MB and faulted in
        // 15 MB (about 4 ms of a 130 ms CSV). A bigger listing grows past it as any array does.
        var arena = ByteText(capacity: 1 << 25)
        var lines: [Line] = []
        let shown = Int32(columns.count)
        let kinds = columns.map(\.kind)
        // JSON keys with their `": "`, made once.
        let keys: [[UInt8]] = columns.map { c in
            var k: [UInt8] = []
            QuotedString.append(c.name, to: &k)
            k.append(contentsOf: Array(": ".utf8))
            return k
        }
        try RowReader.forEach(statement, db) { st in
            let available = sqlite3_column_count(st)
            let start = arena.bytes.count
            if format == .csv {
                for i in 0..<shown {
                    if i > 0 { arena.append(byte: 0x2C) }
                    if i < available { Self.csv(st, i, kinds[Int(i)], &arena) }
                }
                arena.append(byte: 0x0D)
                arena.append(byte: 0x0A)
            } else {
                arena.append("  {")
                for i in 0..<shown {
                    if i > 0 { arena.append(", ") }
                    arena.bytes.append(contentsOf: keys[Int(i)])
                    if i < available { Self.json(st, i, kinds[Int(i)], &arena) } else { arena.append("null") }
                }
                arena.append(byte: UInt8(ascii: "}"))
            }
            func key(_ i: Int32, time: Bool) -> Int64 {
                guard i < available else { return .min }
                switch sqlite3_column_type(st, i) {
                case SQLITE_INTEGER: return sqlite3_column_int64(st, i)
                case SQLITE_FLOAT where time: return Int64(sqlite3_column_double(st, i))
                default: return .min
                }
            }
            lines.append(Line(time: key(0, time: kinds.first == .time), source: key(shown, time: false),
                              seq: key(shown + 1, time: false), start: start, end: arena.bytes.count))
        }
        lines.sort { a, b in
            if a.time != b.time { return a.time < b.time }
            if a.source != b.source { return a.source < b.source }
            return a.seq < b.seq
        }
        return (document(arena.bytes, lines), lines.count)
    }

    /// The header (CSV) or brackets (JSON) around the lines, in their sorted order.
    private func document(_ arena: [UInt8], _ lines: [Line]) -> [UInt8] {
        var out = ByteText(capacity: arena.count + 2 * lines.count + 64 * columns.count + 8)
        if format == .csv {
            for (i, c) in columns.enumerated() {
                if i > 0 { out.append(byte: 0x2C) }
                out.append(csvField: c.name)
            }
            out.append("\r\n")
        } else {
            guard !lines.isEmpty else { return Array("[]\n".utf8) }
            out.append("[\n")
        }
        arena.withUnsafeBufferPointer { a in
            for (n, line) in lines.enumerated() {
                out.bytes.append(contentsOf: UnsafeBufferPointer(rebasing: a[line.start..<line.end]))
                if format == .json { out.append(n == lines.count - 1 ? "\n" : ",\n") }
            }
        }
        if format == .json { out.append("]\n") }
        return out.bytes
    }

    /// One cell as `ByteText.append(csv: RowReader.cell(...))`, text without a String when it is ASCII.
    @inline(__always) private static func csv(_ st: OpaquePointer, _ i: Int32, _ kind: ColumnKind, _ out: inout ByteText) {
        switch sqlite3_column_type(st, i) {
        case SQLITE_NULL: return
        case SQLITE_TEXT where kind != .signalList:
            let u = RowReader.utf8(st, i)
            if ByteText.isASCII(u) { out.append(csvField: u) } else { out.append(csvField: String(decoding: u, as: UTF8.self)) }
        case SQLITE_INTEGER where kind == .auto || kind == .seconds:
            out.append(integer: sqlite3_column_int64(st, i))
        default:
            out.append(csv: RowReader.cell(st, i, kind))
        }
    }

    /// One cell as `ByteText.append(json: RowReader.cell(...))`, text without a String when it is ASCII.
    @inline(__always) private static func json(_ st: OpaquePointer, _ i: Int32, _ kind: ColumnKind, _ out: inout ByteText) {
        switch sqlite3_column_type(st, i) {
        case SQLITE_NULL: out.append("null")
        case SQLITE_TEXT where kind != .signalList:
            let u = RowReader.utf8(st, i)
            if ByteText.isASCII(u) { QuotedString.append(utf8: u, to: &out.bytes) } else { out.append(json: .text(String(decoding: u, as: UTF8.self))) }
        case SQLITE_INTEGER where kind == .auto || kind == .seconds:
            out.append(integer: sqlite3_column_int64(st, i))
        default:
            out.append(json: RowReader.cell(st, i, kind))
        }
    }
}
