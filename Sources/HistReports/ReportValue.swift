import HistModel

/// One cell of a report. Times stay `Timestamp`s until a formatter decides how to show them.
public enum ReportValue: Hashable, Sendable {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)
    case bool(Bool)
    case time(Timestamp)
}

/// How a report column's raw SQLite value is read. Declared per report so that, for example, an
/// INTEGER millisecond column becomes a time and a 0/1 column becomes a boolean.
public enum ColumnKind: Hashable, Sendable {
    /// Whatever SQLite returns (INTEGER, REAL, TEXT; BLOBs as hex text).
    case auto
    /// INTEGER milliseconds since the epoch, UTC.
    case time
    /// 0/1.
    case bool
    /// A signal number, shown by name ("SIGSEGV").
    case signal
    /// A comma-separated list of signal numbers, shown by name ("SIGSEGV,SIGABRT").
    case signalList
}

/// A report column: its snake_case name (the JSON key and CSV header) and how to read it.
public struct ReportColumn: Hashable, Sendable {
    public var name: String
    public var kind: ColumnKind
    public init(_ name: String, _ kind: ColumnKind = .auto) {
        self.name = name
        self.kind = kind
    }
}

/// A finished report: columns in order, and rows of cells in the same order.
public struct ReportResult: Hashable, Sendable {
    public var columns: [ReportColumn]
    public var rows: [[ReportValue]]
    public init(columns: [ReportColumn], rows: [[ReportValue]]) {
        self.columns = columns
        self.rows = rows
    }

    public var isEmpty: Bool { rows.isEmpty }

    /// The cell of `column` in row `row`, or `.null` when the column does not exist.
    public func value(_ row: Int, _ column: String) -> ReportValue {
        guard let c = columns.firstIndex(where: { $0.name == column }) else { return .null }
        return rows[row][c]
    }
}
