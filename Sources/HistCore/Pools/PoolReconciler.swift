import HistModel

/// One worker slot of a pool as the reconcile step sees it: derived from the engine's unit table
/// and its live-process table on every pass, never kept as a count.
public struct WorkerSlot: Hashable, Sendable {
    /// Where a slot stands, for counting.
    public enum Standing: Hashable, Sendable {
        /// **Live**: its process is in the engine's process table (spawned, exec succeeded, not yet
        /// reaped, so the kernel has not reported its exit) and histd is not stopping it.
        case live
        /// No live process right now, but the slot will bring one back by itself: restart backoff
        /// after a crash or spawn failure, a limit stop that restarts, an operator restart.
        case pending
        /// Down until an operator acts: stopped by an operator, gave up (`failed`), or exited with
        /// `restart = "never"`. Counted as a place in the pool (so a crash-looping worker that gave
        /// up is not replaced by a fresh slot that would loop again), but not live.
        case down
        /// Reached `max_worker_age`: still live, waiting for its replacement to be live before histd
        /// stops it. Not counted, so the reconcile step starts its replacement.
        case retiring(replacement: UnitKey?)
        /// Being removed (scale-down or recycled): ignored.
        case leaving
    }

    public var key: UnitKey
    public var standing: Standing
    /// The live process (for choosing the newest), nil without one.
    public var instance: InstanceInfo?

    public init(key: UnitKey, standing: Standing, instance: InstanceInfo? = nil) {
        self.key = key
        self.standing = standing
        self.instance = instance
    }
}

/// What one reconcile pass does to a pool.
public struct PoolPlan: Hashable, Sendable {
    /// New slots to add and start (they take the lowest free worker indexes).
    public var start: Int = 0
    /// Slots to remove because the pool is larger than desired: down and pending slots are
    /// dropped first (they have no process), then the newest live workers are stopped
    /// (reason `scale_down`).
    public var retire: [UnitKey] = []
    /// Retiring slots whose replacement is live: stop them now (reason `recycle`).
    public var release: [UnitKey] = []
    /// Retiring slots that need a (new) replacement; the engine pairs each with one started slot.
    public var needReplacement: [UnitKey] = []

    public init(start: Int = 0, retire: [UnitKey] = [], release: [UnitKey] = [], needReplacement: [UnitKey] = []) {
        self.start = start
        self.retire = retire
        self.release = release
        self.needReplacement = needReplacement
    }

    public var isEmpty: Bool { start == 0 && retire.isEmpty && release.isEmpty && needReplacement.isEmpty }
}

/// The reconcile rule of a pool, pure: compare the desired size with the slots that are live or
/// coming back, and start or stop the difference.
///
/// `counted = live + pending + down` (retiring and leaving slots are not counted).
/// - `counted < desired`: start `desired - counted` new slots.
/// - `counted > desired`: retire the excess: down slots, then pending slots (highest index first),
///   then the live workers with the latest start (newest first).
/// - A retiring slot is released (stopped) only once its replacement is live. If its replacement
///   was retired or is gone and the pool needs no new slot, it is released at once (the pool is
///   at or above its size without it); otherwise it waits for the replacement started now.
public enum PoolReconciler {
    public static func plan(desired: Int, slots: [WorkerSlot]) -> PoolPlan {
        var plan = PoolPlan()
        let want = max(0, desired)
        let byKey = Dictionary(slots.map { ($0.key, $0) }, uniquingKeysWith: { a, _ in a })
        let counted = slots.filter {
            switch $0.standing {
            case .live, .pending, .down: true
            case .retiring, .leaving: false
            }
        }
        if counted.count < want {
            plan.start = want - counted.count
        } else if counted.count > want {
            let rank: (WorkerSlot) -> Int = {
                switch $0.standing {
                case .down: 0
                case .pending: 1
                default: 2
                }
            }
            let order = counted.sorted { a, b in
                if rank(a) != rank(b) { return rank(a) < rank(b) }
                if rank(a) < 2 { return (a.key.workerIndex ?? 0) > (b.key.workerIndex ?? 0) }
                // Newest first: latest start time, then the later instance id (ids grow with each spawn).
                let sa = a.instance?.startedAt ?? Timestamp(milliseconds: 0)
                let sb = b.instance?.startedAt ?? Timestamp(milliseconds: 0)
                if sa != sb { return sa > sb }
                return (a.instance?.id ?? 0) > (b.instance?.id ?? 0)
            }
            plan.retire = order.prefix(counted.count - want).map(\.key)
        }
        let retired = Set(plan.retire)
        var newSlots = plan.start
        func needsNew(_ key: UnitKey) {
            if newSlots > 0 {
                newSlots -= 1
                plan.needReplacement.append(key)
            } else {
                plan.release.append(key)
            }
        }
        for slot in slots.sorted(by: { $0.key < $1.key }) {
            guard case .retiring(let replacement) = slot.standing else { continue }
            if let replacement, !retired.contains(replacement), let r = byKey[replacement] {
                switch r.standing {
                case .live: plan.release.append(slot.key)
                case .pending: break  // Keep serving until the replacement comes back from backoff.
                default: needsNew(slot.key)
                }
            } else {
                needsNew(slot.key)
            }
        }
        return plan
    }
}
