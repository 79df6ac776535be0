import Dispatch
import HistModel
import Synchronization

/// The bounded hand-off between producers (engine, sampler, scanner: any thread) and the writer thread.
///
/// `push` takes a lock for a few instructions (append + counters) and signals a semaphore only when the
/// writer is asleep, so it never waits on the writer or on SQLite. When full it drops the item and
/// counts it for the next `recording_gap`.
final class WriteQueue: Sendable {
    struct State {
        var items: [WriteItem] = []
        var accepted: UInt64 = 0
        /// Items taken from the queue and since written or dropped (flush waits for accepted == processed).
        var processed: UInt64 = 0
        var writerWaiting = false
        var stopping = false
        /// Drops not yet recorded as a recording_gap row.
        var gap = GapAccumulator()
        /// A gap handed to the writer for the current transaction.
        var gapInFlight = false
        var stats = WriterStats()
        /// The first change of the database's name that `DatabaseFileWatch` saw since the writer last checked.
        var fileEventMs: Int64?
    }

    let capacity: Int
    let state: Mutex<State>
    let wake = DispatchSemaphore(value: 0)

    /// Called on the writer thread after each commit with the total of items written (benchmarks only).
    let onCommit: (@Sendable (UInt64) -> Void)?

    init(capacity: Int, onCommit: (@Sendable (UInt64) -> Void)? = nil) {
        self.onCommit = onCommit
        self.capacity = max(1, capacity)
        var s = State()
        s.items.reserveCapacity(min(self.capacity, 4096))
        self.state = Mutex(s)
    }

    func push(_ item: WriteItem) {
        let signal = state.withLock { s -> Bool in
            if s.stopping || s.items.count >= capacity {
                s.gap.add(item, reason: s.stopping ? "closed" : "queue_full")
                s.stats.dropped += 1
                s.stats.droppedByKind[item.dropKey, default: 0] += 1
                return false
            }
            s.items.append(item)
            s.accepted += 1
            if s.writerWaiting {
                s.writerWaiting = false
                return true
            }
            return false
        }
        if signal { wake.signal() }
    }

    /// Writer side: moves everything queued into `buffer`, waiting up to `timeout` (nil = forever) when
    /// nothing is queued. Returns whether the writer is stopping.
    ///
    /// One lock acquisition per batch, not per item. When `buffer` is empty (the usual case) the two arrays
    /// are swapped: the writer gets the items without copying them, and the queue gets the writer's
    /// emptied buffer, whose capacity the next round of `push`es reuses (no reallocation under the lock).
    func take(into buffer: inout [WriteItem], timeout: Duration?) -> Bool {
        let (wait, stopping) = state.withLock { s -> (Bool, Bool) in
            if !s.items.isEmpty {
                WriteQueue.move(&s.items, into: &buffer)
                return (false, s.stopping)
            }
            // A name change the writer has not checked yet: back at once, as for an item.
            if s.stopping || timeout == .zero || s.fileEventMs != nil { return (false, s.stopping) }
            s.writerWaiting = true
            return (true, false)
        }
        if !wait { return stopping }
        if let timeout {
            _ = wake.wait(timeout: .now() + .nanoseconds(Int(max(0, timeout.nanoseconds))))
        } else {
            wake.wait()
        }
        return state.withLock { s in
            s.writerWaiting = false
            if !s.items.isEmpty { WriteQueue.move(&s.items, into: &buffer) }
            return s.stopping
        }
    }

    private static func move(_ items: inout [WriteItem], into buffer: inout [WriteItem]) {
        if buffer.isEmpty {
            swap(&items, &buffer)
        } else {
            // Items kept from a failed write come first (rare: only while the database is unwritable).
            buffer.append(contentsOf: items)
            items.removeAll(keepingCapacity: true)
        }
    }

    /// `DatabaseFileWatch`'s thread: the database's name changed at `atMs`; wakes an idle writer to
    /// check the file now. The earliest unchecked change is kept: the file was in place until then.
    func requestFileCheck(atMs: Int64) {
        let signal = state.withLock { s -> Bool in
            s.fileEventMs = min(s.fileEventMs ?? atMs, atMs)
            defer { s.writerWaiting = false }
            return s.writerWaiting
        }
        if signal { wake.signal() }
    }

    /// Writer side: the time of a name change not yet checked, cleared by the call.
    func takeFileCheckRequest() -> Int64? {
        state.withLock { s in
            defer { s.fileEventMs = nil }
            return s.fileEventMs
        }
    }

    func stop() {
        state.withLock { $0.stopping = true }
        wake.signal()
    }

    var isStopping: Bool { state.withLock { $0.stopping } }

    // MARK: - Gap bookkeeping (writer thread)

    /// Takes the pending gap for the next transaction (nil when none).
    func takeGap() -> GapAccumulator? {
        state.withLock { s in
            guard !s.gap.isEmpty else { return nil }
            let g = s.gap
            s.gap = GapAccumulator()
            s.gapInFlight = true
            return g
        }
    }

    /// The transaction carrying `gap` failed: merge it back.
    func restoreGap(_ gap: GapAccumulator?) {
        state.withLock { s in
            s.gapInFlight = false
            if let gap { s.gap.merge(gap) }
        }
    }

    /// Items the writer had taken but must drop.
    func dropped(_ items: some Sequence<WriteItem>, reason: String) {
        state.withLock { s in
            for item in items {
                s.gap.add(item, reason: reason)
                s.stats.dropped += 1
                s.stats.droppedByKind[item.dropKey, default: 0] += 1
                s.processed += 1
            }
        }
    }

    func committed(items: Int, gapWritten: Bool, maxEventID: Int64, unmapped: Int) {
        let written = state.withLock { s in
            s.processed += UInt64(items)
            s.stats.written += UInt64(items)
            s.stats.batches += 1
            s.stats.unmappedSamples += UInt64(unmapped)
            if gapWritten { s.stats.gaps += 1 }
            s.gapInFlight = false
            s.stats.lastError = nil
            if maxEventID > s.stats.lastCommittedEventID { s.stats.lastCommittedEventID = maxEventID }
            return s.stats.written
        }
        onCommit?(written)
    }

    func failed(_ message: String) {
        state.withLock { s in
            s.stats.writeErrors += 1
            s.stats.lastError = message
        }
    }

    func addShipGaps(_ n: Int, rows: Int) {
        state.withLock {
            $0.stats.shipGaps += UInt64(n)
            $0.stats.shipGapRows += UInt64(rows)
        }
    }

    func addPruned(_ n: Int) {
        state.withLock { $0.stats.pruned += n }
    }

    /// Items dropped since the writer started (StorageHealth's counts).
    var droppedTotal: UInt64 { state.withLock { $0.stats.dropped } }

    /// (accepted, processed, gap pending)
    var progress: (accepted: UInt64, processed: UInt64, gapPending: Bool) {
        state.withLock { ($0.accepted, $0.processed, !$0.gap.isEmpty || $0.gapInFlight) }
    }

    var stats: WriterStats {
        state.withLock { s in
            var st = s.stats
            st.enqueued = s.accepted
            st.queued = s.items.count
            return st
        }
    }
}
