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
    /// A duration in seconds (REAL): a number in JSON and CSV, `1m12s` in tables (HumanDuration), where
    /// the header drops its `_s`.
    case seconds
}

/// How a table may shorten a long cell to fit the terminal (JSON and CSV are never shortened).
public enum CellShortening: Hashable, Sendable {
    /// Only as a last resort, with an ellipsis.
    case none
    /// Keep the last non-empty line (a stderr tail's last line is usually the error), then an ellipsis.
    case lastLine
    /// Cut with an ellipsis (command lines, JSON details).
    case ellipsis
}

/// A report column: its snake_case name (the JSON key and CSV header) and how to read it.
public struct ReportColumn: Hashable, Sendable {
    public var name: String
    public var kind: ColumnKind
    public var shortening: CellShortening
    /// When a table does not fit its width even with cells shortened, columns with a rank are left out,
    /// lowest rank first (and named under the table); nil: always shown.
    public var dropRank: Int?
    public init(_ name: String, _ kind: ColumnKind = .auto, shorten: CellShortening = .none, drop: Int? = nil) {
        self.name = name
        self.kind = kind
        self.shortening = shorten
        self.dropRank = drop
    }
}

/// Which rows a limited table keeps.
public enum RowSelection: Hashable, Sendable {
    /// The first N (reports ranked by importance: loops, zombies, status, summaries).
    case first
    /// The last N (reports in time order, oldest first: the newest are what people look for).
    case newest
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

    /// At most `limit` rows (nil: all), and how many were left out.
    public func limited(to limit: Int?, keep: RowSelection) -> (result: ReportResult, more: Int) {
        guard let limit, rows.count > limit else { return (self, 0) }
        let kept = keep == .first ? Array(rows.prefix(limit)) : Array(rows.suffix(limit))
        return (ReportResult(columns: columns, rows: kept), rows.count - limit)
    }

    /// The cell of `column` in row `row`, or `.null` when the column does not exist.
    public func value(_ row: Int, _ column: String) -> ReportValue {
        guard let c = columns.firstIndex(where: { $0.name == column }) else { return .null }
        return rows[row][c]
    }
}
