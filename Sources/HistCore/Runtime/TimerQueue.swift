/// Pending deadlines on the engine thread, kept sorted by deadline (a handful of entries: one
/// per unit at most for backoff or stop timeout, plus shutdown's own). Cancel is by id.
struct TimerQueue<Payload> {
    struct Entry {
        var id: UInt64
        /// Monotonic deadline.
        var deadline: Duration
        var payload: Payload
    }

    private(set) var entries: [Entry] = []
    private var nextID: UInt64 = 1

    /// Adds a timer; returns its id for `cancel`.
    @discardableResult
    mutating func schedule(at deadline: Duration, _ payload: Payload) -> UInt64 {
        let id = nextID
        nextID += 1
        // Binary search for the first entry with a later deadline (stable for equal deadlines).
        var lo = 0, hi = entries.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if entries[mid].deadline <= deadline { lo = mid + 1 } else { hi = mid }
        }
        entries.insert(Entry(id: id, deadline: deadline, payload: payload), at: lo)
        return id
    }

    mutating func cancel(_ id: UInt64?) {
        guard let id, let i = entries.firstIndex(where: { $0.id == id }) else { return }
        entries.remove(at: i)
    }

    var nextDeadline: Duration? { entries.first?.deadline }

    /// Removes and returns the earliest entry if it is due at `now`.
    mutating func popDue(now: Duration) -> Entry? {
        guard let first = entries.first, first.deadline <= now else { return nil }
        return entries.removeFirst()
    }
}
