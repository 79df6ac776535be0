import GRDB
import GRDBSQLite

/// `events` rows of the current transaction waiting to be inserted, `EventRows.chunk` at a time, with
/// one multi-row `INSERT ... VALUES (...), (...), ...` statement.
///
/// Why: SQLite's fixed cost per executed statement (opening the table and index cursors, starting and
/// ending the statement, resetting) is about as large as the insert itself. Measured on this machine
/// with the C API and the real schema, 32 rows per statement cut the instructions per row by ~45% and
/// roughly doubled rows per CPU-second against one row per statement. Rows are appended in the order
/// events arrive and inserted in that order, so `events.id` still follows arrival order; `flush` runs
/// before the transaction commits (and whenever a chunk is full), so no row outlives its transaction.
struct EventRows {
    /// Rows per multi-row statement; a remainder goes out in `smallChunk`s, then one by one.
    static let chunk = 32
    static let smallChunk = 4
    /// Parameters per row besides the shared run_id.
    static let columns: Int32 = 6

    struct Row {
        var ts: Int64
        var kind: Int64
        var programID: Int64?
        var instanceID: Int64?
        var value: Int64?
        /// Range of the detail JSON in `details`; start < 0 = NULL.
        var detailStart: Int32
        var detailCount: Int32
    }

    private(set) var rows: [Row] = []
    /// The detail texts of `rows`, back to back (UTF-8).
    private var details: [UInt8] = []

    init() {
        rows.reserveCapacity(EventRows.chunk)
        details.reserveCapacity(4096)
    }

    /// Forgets pending rows (after a rollback), keeping the buffers' capacity.
    mutating func discard() {
        rows.removeAll(keepingCapacity: true)
        details.removeAll(keepingCapacity: true)
    }

    var isFull: Bool { rows.count >= EventRows.chunk }
    var isEmpty: Bool { rows.isEmpty }

    mutating func append(ts: Int64, kind: Int64, programID: Int64?, instanceID: Int64?, value: Int64?,
                         detail: UnsafeBufferPointer<UInt8>?) {
        var start: Int32 = -1, count: Int32 = 0
        if let detail {
            start = Int32(details.count)
            count = Int32(detail.count)
            details.append(contentsOf: detail)
        }
        rows.append(Row(ts: ts, kind: kind, programID: programID, instanceID: instanceID, value: value,
                        detailStart: start, detailCount: count))
    }

    /// The SQL of an insert of `n` rows.
    /// Parameter 1 is run_id, shared by every row (one bind per statement); row r's other six values are
    /// parameters 2 + 6r ... 7 + 6r.
    static func sql(rows n: Int) -> String {
        "INSERT INTO events (ts, kind, run_id, program_id, instance_id, value, detail) VALUES "
            + (0..<n).map { r in
                let b = 2 + 6 * r
                return "(?\(b),?\(b + 1),?1,?\(b + 2),?\(b + 3),?\(b + 4),?\(b + 5))"
            }.joined(separator: ",")
    }

    /// Inserts every pending row and empties the buffer. Returns the `events.id` of the last row
    /// (0 when there was none).
    /// `inserted` learns each row's id: a multi-row INSERT into a table whose rowid is its INTEGER PRIMARY
    /// KEY (without AUTOINCREMENT) gives each row the largest rowid so far plus one, so the statement's
    /// rows are `last - size + 1 ... last`, in order.
    mutating func flush(runID: Int64?, big: Statement, small: Statement, single: Statement, db: Database,
                        inserted current: inout ProgramCurrent) throws -> Int64 {
        guard !rows.isEmpty else { return 0 }
        defer { discard() }
        var lastID: Int64 = 0
        try details.withUnsafeBufferPointer { text in
            var i = 0
            let n = rows.count
            for (size, statement) in [(EventRows.chunk, big), (EventRows.smallChunk, small), (1, single)] {
                let raw = RawInsert(statement, db)
                while n - i >= size {
                    raw.bind(1, runID)
                    for r in 0..<size {
                        let row = rows[i + r]
                        let base = 1 + Int32(r) * EventRows.columns
                        raw.bind(base + 1, row.ts)
                        raw.bind(base + 2, row.kind)
                        raw.bind(base + 3, row.programID)
                        raw.bind(base + 4, row.instanceID)
                        raw.bind(base + 5, row.value)
                        if row.detailStart >= 0 {
                            // SQLITE_STATIC (no copy): `details` is neither changed nor freed until the
                            // statement has run, and every parameter is bound again before the next run.
                            raw.bindTextNoCopy(base + 6, UnsafeBufferPointer(
                                rebasing: text[Int(row.detailStart)..<Int(row.detailStart + row.detailCount)]))
                        } else {
                            raw.bindNull(base + 6)
                        }
                    }
                    defer { sqlite3_clear_bindings(raw.handle) } // no pointer into `details` outlives the run
                    try raw.run()
                    lastID = raw.lastRowID // a multi-row INSERT reports its last row
                    for r in 0..<size {
                        let row = rows[i + r]
                        current.insertedEvent(kind: row.kind, programID: row.programID, ts: row.ts,
                                              id: lastID - Int64(size - 1 - r))
                    }
                    i += size
                }
            }
        }
        return lastID
    }
}
