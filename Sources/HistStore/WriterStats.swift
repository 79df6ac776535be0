/// Counters of a `HistoryWriter`, for `histctl status`-like output, benchmarks and tests.
public struct WriterStats: Sendable, Equatable {
    /// Items accepted into the queue (events, sweeps, scans).
    public var enqueued: UInt64 = 0
    /// Items committed to the database.
    public var written: UInt64 = 0
    /// Items lost (queue full, retained batch over its bound, rejected by SQLite, unwritable at shutdown).
    public var dropped: UInt64 = 0
    /// Dropped items by event kind name, or "sweep" / "scan".
    public var droppedByKind: [String: Int] = [:]
    /// `recording_gap` rows written.
    public var gaps: UInt64 = 0
    /// Transactions committed.
    public var batches: UInt64 = 0
    /// Failed write attempts (each rolled back and retried or dropped).
    public var writeErrors: UInt64 = 0
    /// The last write error's message, cleared when a write succeeds again.
    public var lastError: String?
    /// Highest `events.id` known committed (0 = none yet).
    public var lastCommittedEventID: Int64 = 0
    /// Snapshot samples skipped because their instance was unknown to the writer.
    public var unmappedSamples: UInt64 = 0
    /// Items waiting in the queue right now.
    public var queued: Int = 0
    /// Rows deleted by retention since the writer started.
    public var pruned: Int = 0
    /// ship_gaps rows retention recorded since the writer started, and the unshipped rows they cover
    /// (ShipHold: the backlog outgrew ship_max_backlog).
    public var shipGaps: UInt64 = 0
    public var shipGapRows: UInt64 = 0
}
