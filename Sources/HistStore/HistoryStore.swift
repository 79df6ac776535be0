import Foundation
import GRDB
import HistModel
import Synchronization

/// The history database of one histd process: the one write connection, supervisor runs, and the
/// writer that the engine's events flow through.
///
/// Typical use in `histd run`:
/// ```swift
/// let store = try HistoryStore.open(path: path)
/// let start = try store.beginRun(host:pid:version:configPath:configHash:bootID:programs:pools:)
/// // check start.openInstances in /proc, stop leftovers, record .leftover events
/// let writer = store.startWriter(options: .init(retention: ..., snapshotRetention: ...))
/// engine.sink = writer
/// ...
/// try store.endRun(reason: .clean)   // flushes and stops the writer, then closes the run
/// ```
public final class HistoryStore: Sendable {
    /// The database file.
    public let path: String
    /// The one write connection, which the writer may open late or reopen (`DatabaseSlot`). The writer
    /// thread uses it; `beginRun`/`endRun` use it before/after. Throws `cannotOpen` while none is open.
    let slot: DatabaseSlot
    var dbQueue: DatabaseQueue { get throws { try slot.current() } }
    private struct State {
        var runID: Int64?
        var writer: HistoryWriter?
    }
    private let state = Mutex(State())

    init(path: String, dbQueue: DatabaseQueue?, ship: ShipCapture? = nil) {
        self.path = path
        self.slot = DatabaseSlot(path: path, queue: dbQueue, ship: ship)
    }

    /// Opens the database for writing: creates its folder and the file (mode 0640; -wal/-shm inherit it)
    /// if missing, sets WAL/synchronous/busy_timeout, and applies the embedded migrations.
    /// Throws `HistoryStoreError` (directory, not SQLite, not a histd database, newer schema...).
    /// `ship`: whether this writer captures changes for histd-ship (`ShipCapture`; histd run passes `.on`
    /// or `.off` from `[ship]`); nil leaves the capture state as it is (tools, tests).
    public static func open(path: String, ship: ShipCapture? = nil) throws -> HistoryStore {
        HistoryStore(path: path, dbQueue: try HistoryDatabase.openWriter(path: path, create: true, ship: ship), ship: ship)
    }

    /// Like `open`, but a database that cannot be opened *now* (full disk, read-only mount, a missing
    /// permission, a lock held through the migrations) is not an error: the store is returned without a
    /// connection, with the reason, and its writer keeps trying to open it (`histd run` supervises
    /// meanwhile). A file histd refuses (a directory, not SQLite, another application's database, a newer
    /// histd's) is still thrown: retrying would not change it.
    public static func openOrDefer(path: String, ship: ShipCapture? = nil) throws -> (store: HistoryStore, deferred: HistoryStoreError?) {
        do {
            return (try open(path: path, ship: ship), nil)
        } catch let error as HistoryStoreError where error.code.isRetryable {
            return (HistoryStore(path: path, dbQueue: nil, ship: ship), error)
        }
    }

    /// Opens an existing database for writing without creating it (for `histctl prune` and tools).
    public static func openExisting(path: String) throws -> HistoryStore {
        HistoryStore(path: path, dbQueue: try HistoryDatabase.openWriter(path: path, create: false))
    }

    /// The current run's id, once `beginRun` has succeeded.
    public var runID: Int64? { state.withLock { $0.runID } }

    /// Records a supervisor start: closes every earlier open run as `unclean` (stopped_at = its last
    /// event, or now), inserts the new run, upserts the programs and pools with their config as JSON,
    /// and writes `supervisor_start`. Returns the closed runs' instances that may still be alive.
    /// One transaction: either all of it is recorded or none. Synchronous, for tools and tests;
    /// `histd run` hands the same request to the writer (`startWriter(beginning:)`), which retries it.
    public func beginRun(host: String, pid: Int32, version: String, configPath: String?, configHash: String?,
                         bootID: String?, programs: [ProgramSpec], pools: [PoolSpec],
                         startTicks: UInt64? = nil, at now: Timestamp = .now()) throws -> RunStart {
        let request = RunRequest(host: host, pid: pid, version: version, configPath: configPath, configHash: configHash,
                                     bootID: bootID, programs: programs, pools: pools, startTicks: startTicks, at: now)
        let result: RunStart = try write("beginRun") { db in try request.begin(db, detectedAt: now) }
        state.withLock { $0.runID = result.runID }
        return result
    }

    /// The instances of earlier runs still open (histd died) with no recorded end, from boot `bootID` or
    /// an unknown one: what beginning the next run will report as `RunStart.openInstances`. Read before the
    /// writer starts, so histd checks them without waiting for its run to be recorded. Throws when the
    /// file cannot be read.
    public func leftovers(bootID: String?) throws -> [OpenInstance] {
        try dbQueue.inDatabase { db in try RunRequest.leftovers(db, bootID: bootID) }
    }

    /// Starts the single writer, whose first item is beginning the run of `request`: it is retried
    /// (with the writer's backoff) until it commits, and nothing else is written before it, so every
    /// row of this run points at its `runs` row, however late the database becomes writable.
    /// `HistoryWriter.waitForRun` says when (and what `beginRun` would have returned).
    public func startWriter(beginning request: RunRequest, options: HistoryWriter.Options = .init()) -> HistoryWriter {
        state.withLock { s in
            if let w = s.writer { return w }
            let w = HistoryWriter(slot: slot, run: .pending(request), options: options, onCommit: nil,
                                  onRunBegun: { [weak self] start in
                                      self?.state.withLock { $0.runID = start.runID }
                                      options.onRunBegun?(start)
                                  })
            s.writer = w
            return w
        }
    }

    /// Starts the single writer for this store (once; later calls return the same writer). Events are
    /// attributed to the current run (`beginRun` first; without a run, e.g. `histd scan --once`, run_id is NULL).
    public func startWriter(options: HistoryWriter.Options = .init()) -> HistoryWriter {
        startWriter(options: options, onCommit: nil)
    }

    /// `onCommit` (benchmarks) is called on the writer thread after each commit with the total of items written.
    package func startWriter(options: HistoryWriter.Options, onCommit: (@Sendable (UInt64) -> Void)?) -> HistoryWriter {
        state.withLock { s in
            if let w = s.writer { return w }
            let w = HistoryWriter(slot: slot, run: s.runID.map { .begun($0) } ?? .none, options: options,
                                  onCommit: onCommit, onRunBegun: nil)
            s.writer = w
            return w
        }
    }

    /// The writer, if started.
    public var writer: HistoryWriter? { state.withLock { $0.writer } }

    /// Closes the current run: flushes and stops the writer (waiting at most `flushTimeout`), writes
    /// `supervisor_stop` and sets `runs.stopped_at`/`stop_reason`.
    public func endRun(reason: RunStopReason = .clean, at now: Timestamp? = nil, flushTimeout: Duration = .seconds(5)) throws {
        let writer = state.withLock { $0.writer }
        writer?.close(timeout: flushTimeout)
        // Read after the flush: histd does not wait for its run to be recorded, so a stop right after the
        // start may find the run recorded only by this flush.
        guard let runID = state.withLock({ $0.runID }) else { return }
        let ts = (now ?? .now()).milliseconds
        try write("endRun") { db in
            var detail = JSONText()
            detail.add("reason", reason.rawValue)
            try db.execute(sql: "INSERT INTO events (ts, kind, run_id, value, detail) VALUES (?, ?, ?, NULL, ?)",
                           arguments: [ts, EventKindID.id(.supervisorStop), runID, detail.text])
            try db.execute(sql: "UPDATE runs SET stopped_at = ?, stop_reason = ? WHERE id = ?",
                           arguments: [ts, reason.rawValue, runID])
        }
        state.withLock { $0.runID = nil }
    }

    /// Deletes rows older than the retention periods, in small transactions (see `HistoryMaintenance`).
    /// Synchronous, on the store's connection; the running writer prunes by itself when given retention options.
    @discardableResult
    /// `shipMaxBacklog`: keep what histd-ship has not shipped, up to this many bytes (ShipHold; nil: no hold);
    /// `shipSnapshots`: its snapshots too.
    public func prune(now: Timestamp = .now(), retention: Duration, snapshotRetention: Duration,
                      batchSize: Int = 1000, shipMaxBacklog: Int64? = nil, shipSnapshots: Bool = false) throws -> PruneResult {
        try HistoryMaintenance.prune(dbQueue, path: path, now: now, retention: retention,
                                     snapshotRetention: snapshotRetention, batchSize: batchSize, shipMaxBacklog: shipMaxBacklog,
                                     shipSnapshots: shipSnapshots)
    }

    /// Stops the writer (flushing first) and closes the connection.
    public func close(timeout: Duration = .seconds(5)) {
        let writer = state.withLock { $0.writer }
        writer?.close(timeout: timeout)
        slot.close()
    }

    /// Runs `body` on the write connection (serialized with the writer thread). For tests (fault
    /// injection: `PRAGMA max_page_count`, `PRAGMA query_only`) and maintenance.
    package func withWriteConnection<T>(_ body: (Database) throws -> T) throws -> T {
        try dbQueue.inDatabase(body)
    }

    func write<T>(_ what: String, _ body: (Database) throws -> T) throws -> T {
        do {
            return try dbQueue.inDatabase { db in
                var result: T?
                try db.inTransaction(.immediate) {
                    result = try body(db)
                    return .commit
                }
                return result!
            }
        } catch let error as DatabaseError {
            throw HistoryStoreError(.writeFailed, path: path, "\(what) failed: \(error.message ?? "\(error)")")
        }
    }
}
