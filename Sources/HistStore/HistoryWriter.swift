import Dispatch
import Foundation
import GRDB
import HistModel
import Synchronization
import HistSys

/// The single writer: the engine's `HistorySink`.
///
/// `record` appends to a bounded in-memory queue and returns at once; it never touches SQLite. One
/// dedicated thread owns the write connection, takes everything queued, and commits it in batches of
/// up to `batchSize` items per transaction (so under light load each event is committed within a few ms,
/// and under heavy load batches grow by themselves; there is no fixed batching delay).
///
/// Failure handling, the core promise: when the queue is full the new item is dropped and counted; when
/// a write fails (disk full, read-only, locked, I/O error) the transaction is rolled back, the batch is
/// kept in memory (up to `retainLimit` items, dropping snapshots first), and the writer retries with
/// exponential backoff. When a write succeeds again, a `recording_gap` event with the dropped count, the
/// time span and the counts by kind is committed in the same transaction as the next items. Nothing is
/// lost silently.
public final class HistoryWriter: HistorySink, Sendable {
    /// Tuning. The defaults suit `histd run`.
    public struct Options: Sendable {
        /// Items the queue holds before `record` starts dropping.
        public var capacity: Int
        /// Items per transaction while the writer keeps up (each batch is committed as soon as it is taken,
        /// without waiting for more).
        public var batchSize: Int
        /// Items per transaction at most while a backlog waits (see `WriterLoop.transactionSize`).
        public var maxBatchSize: Int
        /// Items kept in memory while the database cannot be written; beyond this, items are dropped
        /// (sweeps first, then scans, then the newest events) and counted.
        public var retainLimit: Int
        /// First retry delay after a failed write; doubles up to `retryMax`.
        public var retryInitial: Duration
        public var retryMax: Duration
        /// Retention run by the writer between batches (nil = no pruning by the writer).
        public var retention: Duration?
        public var snapshotRetention: Duration?
        /// How often to prune (also once at start).
        public var pruneEvery: Duration
        /// Rows per prune transaction.
        public var pruneBatchSize: Int
        /// `[ship] ship_max_backlog`: while the file captures changes for histd-ship, retention keeps the
        /// rows not shipped yet up to this many bytes (ShipHold). nil: no hold (no [ship]). The writer's
        /// starting value: `setShipHold` changes it.
        public var shipMaxBacklog: Int64? = nil
        /// `[ship] ship_snapshots` is on: the hold covers unshipped sweeps and snapshots too.
        public var shipSnapshots = false
        /// Called on the writer thread after each committed transaction with how long it took (from
        /// BEGIN to COMMIT). Must return at once (histd's metrics observe a histogram). Nil = not timed.
        public var onCommit: (@Sendable (Duration) -> Void)?
        /// How often the writer checks that the file it has open is still the one at its path (device and
        /// inode); zero = never. On a timer of the writer thread, never per event.
        public var fileCheckEvery: Duration = .seconds(1)
        /// Called on the writer thread once per change of the database's state (cannot open, full, locked,
        /// deleted, dropping, recovered), never per failed attempt. Must return at once (histd logs a line).
        public var onStorageState: (@Sendable (StorageNotice) -> Void)?
        /// Called on the writer thread once the pending run (`HistoryStore.startWriter(beginning:)`) is
        /// committed, with what recording it found. Must return at once (histd logs its lines).
        public var onRunBegun: (@Sendable (RunStart) -> Void)?

        public init(capacity: Int = 100_000, batchSize: Int = 1000, maxBatchSize: Int = 8000, retainLimit: Int = 100_000,
                    retryInitial: Duration = .milliseconds(20), retryMax: Duration = .seconds(2),
                    retention: Duration? = nil, snapshotRetention: Duration? = nil,
                    pruneEvery: Duration = .seconds(3600), pruneBatchSize: Int = 1000) {
            self.capacity = capacity
            self.batchSize = batchSize
            self.maxBatchSize = maxBatchSize
            self.retainLimit = retainLimit
            self.retryInitial = retryInitial
            self.retryMax = retryMax
            self.retention = retention
            self.snapshotRetention = snapshotRetention
            self.pruneEvery = pruneEvery
            self.pruneBatchSize = pruneBatchSize
        }
    }

    /// The run the writer attributes rows to.
    enum Run: Sendable {
        /// None (`histd scan --once`): scans and events get a NULL run_id.
        case none
        /// Already recorded (`HistoryStore.beginRun`).
        case begun(Int64)
        /// To be recorded by the writer as its first item, retried until it commits.
        case pending(RunRequest)
    }

    let queue: WriteQueue
    private let finished = DispatchSemaphore(value: 0)
    public let options: Options
    /// The run once recorded; shared with the writer thread (a class: a Mutex cannot be captured).
    private final class Begun: Sendable {
        let state: Mutex<(runID: Int64?, start: RunStart?)>
        init(_ runID: Int64?) { state = Mutex((runID, nil)) }
    }
    private let begun: Begun
    /// Wakes the writer when the database's name changes (DatabaseFileWatch); nil without file checks.
    private let fileWatch: DatabaseFileWatch?
    /// `shipMaxBacklog` and `shipSnapshots` as they are now (`setShipHold`).
    private let shipHold: ShipHoldSetting

    init(slot: DatabaseSlot, run: Run, options: Options, onCommit: (@Sendable (UInt64) -> Void)? = nil,
         onRunBegun: (@Sendable (RunStart) -> Void)? = nil) {
        self.queue = WriteQueue(capacity: options.capacity, onCommit: onCommit)
        self.options = options
        if case .begun(let id) = run { begun = Begun(id) } else { begun = Begun(nil) }
        let queue = self.queue, finished = self.finished, begun = self.begun
        let fileWatch = options.fileCheckEvery > .zero
            ? DatabaseFileWatch(path: slot.path) { queue.requestFileCheck(atMs: $0) } : nil
        self.fileWatch = fileWatch
        let shipHold = ShipHoldSetting(.init(maxBacklog: options.shipMaxBacklog, snapshots: options.shipSnapshots))
        self.shipHold = shipHold
        let thread = Thread.named("histd-writer") {
            var loop = WriterLoop(slot: slot, queue: queue, run: run, options: options, fileWatch: fileWatch, shipHold: shipHold) { start in
                begun.state.withLock { $0 = (start.runID, start) }
                onRunBegun?(start)
            }
            loop.run()
            finished.signal()
        }
        thread.start()
    }

    /// Changes the backpressure for histd-ship (`Options.shipMaxBacklog`, `Options.shipSnapshots`) from the
    /// next prune on: `histctl reload` of `[ship] ship_max_backlog` or `ship_snapshots`. A prune under way
    /// keeps the plan it made at its first step.
    public func setShipHold(maxBacklog: Int64?, snapshots: Bool) {
        shipHold.value = .init(maxBacklog: maxBacklog, snapshots: snapshots)
    }

    /// The run rows are attributed to: nil before a pending run has begun, or when there is none
    /// (e.g. `histd scan --once`).
    public var runID: Int64? { begun.state.withLock { $0.runID } }

    /// Waits until the writer has recorded the pending run (`HistoryStore.startWriter(beginning:)`) and
    /// returns what recording it found; nil on timeout (the writer keeps retrying) or when the writer
    /// was not given a run to begin.
    public func waitForRun(timeout: Duration) -> RunStart? {
        let deadline = MonotonicInstant.now().adding(timeout)
        while true {
            if let start = begun.state.withLock({ $0.start }) { return start }
            if MonotonicInstant.now() >= deadline || queue.isStopping { return nil }
            usleep(1000)
        }
    }

    /// Queues an event; never blocks.
    public func record(_ event: HistEvent) { queue.push(.event(event)) }
    /// Queues a sampling sweep; never blocks.
    public func record(_ sweep: SnapshotSweep) { queue.push(.sweep(sweep)) }
    /// Queues a scan report; never blocks.
    public func record(_ scan: ScanReport) { queue.push(.scan(scan)) }

    /// Waits until everything recorded before this call has been committed (or dropped and counted) and
    /// any pending `recording_gap` row is written. Returns false on timeout (e.g. the database is still
    /// unwritable). For shutdown and tests; the engine never calls it.
    @discardableResult
    public func flush(timeout: Duration) -> Bool {
        let target = queue.progress.accepted
        let deadline = MonotonicInstant.now().adding(timeout)
        while true {
            let p = queue.progress
            if p.processed >= target && !p.gapPending { return true }
            if MonotonicInstant.now() >= deadline { return false }
            usleep(500)
        }
    }

    /// Flushes (up to `timeout`), then stops the writer thread. Items still unwritable are dropped and
    /// counted in `stats`. Later `record` calls are dropped. Idempotent.
    public func close(timeout: Duration = .seconds(5)) {
        if queue.isStopping { return }
        flush(timeout: timeout)
        queue.stop()
        finished.wait()
        finished.signal() // let a concurrent close() return too
        fileWatch?.stop()
    }

    deinit { fileWatch?.stop() }

    /// A snapshot of the counters.
    public var stats: WriterStats { queue.stats }
}
