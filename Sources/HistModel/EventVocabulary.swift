// The reasons and kinds that events and scans carry, as enums. Their raw values are what the
// database stores (in `events.detail` and `orphans.reason`): scripts and reports match on them, so a
// raw value never changes once landed (HistModelTests/EventVocabularyTests pins every one).

/// Why histd asked a unit to stop. Stored as `reason` in `stop_requested` details.
public enum StopReason: String, Hashable, Sendable, CaseIterable {
    /// An operator command (`stop`/`restart`).
    case `operator`
    /// histd itself is shutting down.
    case shutdown
    /// A limit (`max_memory_mb`, ...) was breached; the unit restarts under backoff.
    case limit
    /// A pool is shrinking.
    case scaleDown = "scale_down"
    /// A pool worker is being replaced (age recycling).
    case recycle
    /// A config reload removed the program.
    case reload
}

/// Which limit a `limit_breach` crossed. Stored as `limit` in its detail.
public enum LimitKind: String, Hashable, Sendable, CaseIterable {
    /// The RSS of the instance's process tree, checked by the watcher (values in bytes).
    case maxMemory = "max_memory_mb"
    /// The cgroup's `memory.max`: the kernel OOM-killed inside the program's cgroup.
    case cgroupMemory = "cgroup_memory"
    /// The cgroup's `pids.max`: the kernel refused a fork.
    case tasksMax = "tasks_max"
}

/// What happened because of a `limit_breach`. Stored as `action` in its detail.
public enum BreachAction: String, Hashable, Sendable, CaseIterable {
    /// histd stopped the unit (it restarts under backoff).
    case stop
    /// The kernel killed a process of the cgroup.
    case oomKill = "oom_kill"
    /// The kernel refused a fork in the cgroup.
    case forkRefused = "fork_refused"
}

/// Why a pool worker was replaced without backoff. Stored as `reason` in `recycled` details.
public enum RecycleReason: String, Hashable, Sendable, CaseIterable {
    /// It exited 0 by itself.
    case exit0
    /// It reached `max_worker_age` and its replacement is live.
    case maxAge = "max_age"
    /// A config reload changed the pool's worker spawn keys; its replacement is live.
    case reload
}

/// Why a process was judged an orphan (see docs/WATCHING.md). Stored in `orphans.reason`.
public enum OrphanReason: String, Hashable, Sendable, CaseIterable {
    /// A child of histd (the subreaper) that histd did not spawn.
    case adoptedByHistd = "adopted_by_histd"
    /// Parent is PID 1 and the session leader is gone.
    case reparentedToInit = "reparented_to_init"
    /// Parent is PID 1, the session leader lives but the group leader is gone.
    case groupLeaderGone = "group_leader_gone"
    /// Parent is another process (a subreaper).
    case reparentedToSubreaper = "reparented_to_subreaper"
}
