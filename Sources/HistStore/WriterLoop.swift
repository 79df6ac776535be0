import Foundation
import GRDB
import HistModel

/// The writer thread's body: take, write in batches, retry on failure, prune between batches.
/// Everything here runs on that one thread; only `WriteQueue` is shared.
struct WriterLoop {
    /// The write connection, opened (or reopened) here when it is missing (`DatabaseSlot`).
    let slot: DatabaseSlot
    let queue: WriteQueue
    let options: WriterOptions
    var session: WriteSession
    /// Items taken from the queue and not yet committed, oldest first.
    var retained: [WriteItem] = []
    var backoff: Duration
    /// Why the last write failed (nil while writes succeed); used as the drop reason.
    var failure: String?
    var pruner: Pruner?
    var nextPrune: MonotonicInstant
    /// The run still to be recorded: the writer's first item. Until it commits nothing else is written
    /// (items wait in `retained`, bounded by `retainLimit`), so no row of the run lacks its run id.
    var pendingRun: RunRequest?
    /// The pending run's program configs as JSON, encoded at its first attempt and kept for the retries.
    var pendingSpecs: [(name: String, kind: String, json: String)]?
    let onRunBegun: (RunStart) -> Void
    /// The run to record again in a new file if the database is deleted or replaced.
    let runRequest: RunRequest?
    /// Outages and the state last reported (StorageHealth.swift).
    var health: StorageHealth
    /// When the writer last checked the file (the next timed check is `fileCheckEvery` later).
    var lastFileCheck: MonotonicInstant
    /// Reports changes of the database's name in its folder (nil: inotify unavailable; checks by timer).
    let fileWatch: DatabaseFileWatch?
    /// When the file was last seen in place (the start of a deleted/replaced outage), and the writer's
    /// total of committed items when the current file was opened.
    var fileSeenMs: Int64 = Timestamp.now().milliseconds
    var writtenAtOpen: UInt64 = 0
    /// The earliest time of a fact this histd may have committed to the current file: the run's start for
    /// the file it found at start, the previous loss for a file opened after one. With the loss's time it
    /// bounds what a lost file took with it (`lost_since_ms`, which postmortems show as incomplete).
    var fileSinceMs: Int64
    /// Whether the write connection runs with the backlog page cache (WriterLoop+Cache.swift).
    var burstCache = false

    typealias WriterOptions = HistoryWriter.Options
    /// The hold for histd-ship, read as each prune begins (a reload may change it).
    let shipHold: ShipHoldSetting

    init(slot: DatabaseSlot, queue: WriteQueue, run: HistoryWriter.Run, options: WriterOptions,
         fileWatch: DatabaseFileWatch? = nil, shipHold: ShipHoldSetting? = nil, onRunBegun: @escaping (RunStart) -> Void) {
        self.slot = slot
        self.shipHold = shipHold ?? ShipHoldSetting(.init(maxBacklog: options.shipMaxBacklog, snapshots: options.shipSnapshots))
        self.fileWatch = fileWatch
        self.lastFileCheck = MonotonicInstant.now()
        self.health = StorageHealth(path: slot.path, retainLimit: options.retainLimit)
        if case .pending(let request) = run { runRequest = request } else { runRequest = nil }
        fileSinceMs = runRequest?.startedAt.milliseconds ?? Timestamp.now().milliseconds
        self.queue = queue
        self.options = options
        switch run {
        case .none: session = WriteSession(runID: nil)
        case .begun(let id): session = WriteSession(runID: id)
        case .pending(let request):
            session = WriteSession(runID: nil)
            pendingRun = request
        }
        self.onRunBegun = onRunBegun
        self.backoff = options.retryInitial
        self.nextPrune = .now() // prune once at start
    }

    mutating func run() {
        while true {
            let idle = retained.isEmpty && failure == nil && pendingRun == nil
            let wait: Duration? = idle ? (pruner != nil ? .zero : Self.earlier(untilNextPrune(), untilNextFileCheck())) : .zero
            let before = retained.count
            let stopping = queue.take(into: &retained, timeout: wait)
            if retained.count > before {
                enforceRetainLimit()
            } else if burstCache {
                releaseBurstCache()
            }
            checkFileIfDue()
            let gapPending = queue.progress.gapPending
            if gapPending { noteDropping() }
            if pendingRun != nil || !retained.isEmpty || gapPending || health.outage != nil {
                // The run first: nothing of it is written before its runs row exists.
                if beginRun() && writeRetained() {
                    backoff = options.retryInitial
                    failure = nil
                } else {
                    if stopping {
                        queue.dropped(retained, reason: "shutdown")
                        retained.removeAll()
                        return
                    }
                    sleepBackoff()
                    continue
                }
            } else if stopping {
                return
            }
            pruneIfDue()
        }
    }

    // MARK: - Writing

    /// Writes every retained item in transactions of `batchSize` (more under a backlog, see
    /// `transactionSize`). Returns false after a transient failure (the unwritten items stay retained).
    mutating func writeRetained() -> Bool {
        var start = 0
        defer {
            if start == retained.count {
                // Keep the buffer's capacity for the next swap with the queue, unless a burst made it
                // large: that memory would otherwise stay with the writer for good.
                retained.removeAll(keepingCapacity: retained.capacity <= WriterLoop.keptCapacity)
            } else {
                retained.removeFirst(start)
            }
        }
        if retained.count > options.maxBatchSize && !burstCache { useBurstCache() }
        while true {
            let end = min(start + transactionSize(backlog: retained.count - start), retained.count)
            if start == end && !queue.progress.gapPending && health.outage == nil { return true }
            switch commit(retained[start..<end]) {
            case .success:
                start = end
            case .transient(let reason, let message):
                queue.failed(message)
                noteFailure(reason, message)
                return false
            case .rejected(let message):
                // Deterministic failure (constraint, too big, ...): retrying the batch would fail forever.
                // Write the items one by one and drop only the ones SQLite refuses.
                queue.failed(message)
                for i in start..<end {
                    switch commit(retained[i...i]) {
                    case .success: break
                    case .rejected:
                        queue.dropped(retained[i...i], reason: "rejected")
                    case .transient(let reason, let message):
                        queue.failed(message)
                        noteFailure(reason, message)
                        start = i
                        return false
                    }
                }
                start = end
            }
        }
    }

    /// Items whose buffer capacity the writer keeps between batches (about 1–2 MB of `WriteItem`s).
    static let keptCapacity = 16_384

    /// Items in the next transaction. `batchSize` while the writer keeps up, so each commit is small and
    /// events reach the disk within a few ms; larger while a backlog waits (the items have waited already,
    /// so a longer transaction adds no latency to them), which saves commits and WAL frames of partly
    /// filled pages being written again and again. Capped by `maxBatchSize`.
    func transactionSize(backlog: Int) -> Int {
        let base = max(1, options.batchSize)
        guard backlog > 2 * base else { return base }
        return min(max(base, backlog / 2), max(base, options.maxBatchSize))
    }

    enum CommitResult {
        case success
        case transient(reason: String, message: String)
        case rejected(message: String)
    }

    /// One transaction: the pending gap row (taken only once the write lock is held, so drops that happen
    /// while we wait for the lock land in the same row) and `items`.
    mutating func commit(_ items: ArraySlice<WriteItem>) -> CommitResult {
        var gap: GapAccumulator?
        let began = options.onCommit == nil ? nil : ContinuousClock.now
        do {
            var outcome = WriteSession.Outcome()
            let health = self.health, runID = session.runID
            try slot.openIfNeeded().inDatabase { db in
                try db.inTransaction(.immediate) {
                    gap = queue.takeGap()
                    let now = Timestamp.now().milliseconds
                    try health.writeOutage(db, runID: runID, nowMs: now, dropped: queue.droppedTotal)
                    outcome = try session.write(items, gap: gap, db: db, now: now)
                    return .commit
                }
            }
            noteCommitted(gapWritten: gap != nil)
            session.caches.commit()
            if let began, let onCommit = options.onCommit { onCommit(ContinuousClock.now - began) }
            queue.committed(items: items.count, gapWritten: gap != nil, maxEventID: outcome.maxEventID,
                            unmapped: outcome.unmappedSamples)
            return .success
        } catch {
            queue.restoreGap(gap)
            session.caches.rollback()
            session.rolledBack()
            let (reason, transient) = WriteFailure.classify(error)
            let message = "\(reason): \(error)"
            return transient ? .transient(reason: reason, message: message) : .rejected(message: message)
        }
    }

    /// Records the pending run in one transaction. Every failure is retried (with the writer's backoff):
    /// without its run, nothing of this histd can be written.
    mutating func beginRun() -> Bool {
        guard let request = pendingRun else { return true }
        if pendingSpecs == nil { pendingSpecs = request.encodedSpecs() }
        let specs = pendingSpecs
        do {
            let health = self.health
            let start = try slot.openIfNeeded().inDatabase { db in
                var start: RunStart?
                try db.inTransaction(.immediate) {
                    start = try request.begin(db, detectedAt: .now(), specs: specs)
                    try health.writeOutage(db, runID: start!.runID, nowMs: Timestamp.now().milliseconds,
                                           dropped: queue.droppedTotal)
                    return .commit
                }
                return start!
            }
            noteCommitted(gapWritten: false)
            pendingRun = nil
            pendingSpecs = nil
            session.runID = start.runID
            onRunBegun(start)
            return true
        } catch {
            let (reason, _) = WriteFailure.classify(error)
            queue.failed("begin run: \(reason): \(error)")
            noteFailure(reason, "\(error)")
            return false
        }
    }

    /// Bounds memory while the database is unwritable: drop sweeps first (oldest first), then scans,
    /// then the newest events.
    mutating func enforceRetainLimit() {
        var excess = retained.count - max(1, options.retainLimit)
        guard excess > 0 else { return }
        let reason = failure ?? "backlog"
        for pass in 0..<2 where excess > 0 {
            var kept: [WriteItem] = []
            kept.reserveCapacity(retained.count)
            var dropped: [WriteItem] = []
            for item in retained {
                let match: Bool
                switch item {
                case .sweep: match = pass == 0
                case .scan: match = pass == 1
                case .event: match = false
                }
                if match && excess > 0 {
                    dropped.append(item)
                    excess -= 1
                } else {
                    kept.append(item)
                }
            }
            queue.dropped(dropped, reason: reason)
            retained = kept
        }
        if excess > 0 {
            queue.dropped(retained.suffix(excess), reason: reason)
            retained.removeLast(excess)
        }
    }

    mutating func sleepBackoff() {
        // Sleep in short steps so close() is not held up by a long backoff.
        let deadline = MonotonicInstant.now().adding(backoff)
        while MonotonicInstant.now() < deadline && !queue.isStopping {
            usleep(5_000)
        }
        backoff = min(backoff * 2, options.retryMax)
    }

    // MARK: - Retention

    func untilNextPrune() -> Duration? {
        guard options.retention != nil || options.snapshotRetention != nil else { return nil }
        let now = MonotonicInstant.now()
        return nextPrune > now ? nextPrune.since(now) : .zero
    }

    /// One small prune transaction at a time, only when no items are waiting.
    mutating func pruneIfDue() {
        guard options.retention != nil || options.snapshotRetention != nil else { return }
        if pruner == nil {
            guard MonotonicInstant.now() >= nextPrune else { return }
            let far = Duration.seconds(100 * 365 * 86400)
            pruner = Pruner(now: .now(), retention: options.retention ?? far,
                            snapshotRetention: options.snapshotRetention ?? options.retention ?? far,
                            batchSize: options.pruneBatchSize,
                            hold: shipHold.hold(path: slot.path))
            // Mappings of instances that ended long ago are no longer needed for late snapshots.
            session.forgetEnded(before: Timestamp.now().milliseconds - 600_000)
        }
        guard var p = pruner else { return }
        do {
            var deleted = 0
            // Never opens the file: only a write of facts does (and is retried with backoff).
            try slot.current().inDatabase { db in
                try db.inTransaction(.immediate) {
                    deleted = try p.step(db)
                    return .commit
                }
            }
            queue.addPruned(deleted)
            let gaps = p.result.shipGaps - (pruner?.result.shipGaps ?? 0)
            if gaps > 0 { queue.addShipGaps(gaps, rows: p.result.shipGapRows - (pruner?.result.shipGapRows ?? 0)) }
            pruner = p.isDone ? nil : p
        } catch {
            // Retention is best effort: try again next period.
            queue.failed("prune: \(error)")
            pruner = nil
        }
        if pruner == nil { nextPrune = MonotonicInstant.now().adding(options.pruneEvery) }
    }
}

/// Classifies SQLite errors: transient ones are retried (the batch is kept), the rest are deterministic.
enum WriteFailure {
    static func classify(_ error: any Error) -> (reason: String, transient: Bool) {
        // From `DatabaseSlot.openIfNeeded`: the file could not be opened, or is one histd refuses to
        // write; both are retried (space may be freed, the file put back), never modified.
        if let e = error as? HistoryStoreError { return (e.code.isRetryable ? "cannot_open" : "refused", true) }
        guard let e = error as? DatabaseError else { return ("write_error", true) }
        switch e.resultCode {
        case .SQLITE_FULL: return ("disk_full", true)
        case .SQLITE_READONLY: return ("read_only", true)
        case .SQLITE_BUSY, .SQLITE_LOCKED: return ("busy", true)
        case .SQLITE_IOERR, .SQLITE_CANTOPEN, .SQLITE_PROTOCOL: return ("io_error", true)
        case .SQLITE_NOMEM: return ("no_memory", true)
        case .SQLITE_CORRUPT, .SQLITE_NOTADB: return ("corrupt", true)
        case .SQLITE_PERM, .SQLITE_AUTH: return ("read_only", true)
        default: return ("rejected", false)
        }
    }
}
