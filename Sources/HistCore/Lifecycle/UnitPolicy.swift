import HistModel

/// The parts of a program's config (and of histd's current phase) that decide transitions.
public struct UnitPolicy: Hashable, Sendable {
    public var restart: RestartPolicy
    public var backoff: BackoffPolicy
    public var stopSignal: Int32
    public var stopTimeout: Duration
    /// Pool workers: an exit 0 is a "recycle" — replaced at once, no backoff, not counted.
    public var recycleCleanExit: Bool
    /// False while histd shuts down: nothing that ends is started again.
    public var restartsAllowed: Bool

    public init(restart: RestartPolicy, backoff: BackoffPolicy, stopSignal: Int32 = 15,
                stopTimeout: Duration = .seconds(10), recycleCleanExit: Bool = false, restartsAllowed: Bool = true) {
        self.restart = restart
        self.backoff = backoff
        self.stopSignal = stopSignal
        self.stopTimeout = stopTimeout
        self.recycleCleanExit = recycleCleanExit
        self.restartsAllowed = restartsAllowed
    }

    /// The policy of a program spec.
    public init(_ spec: ProgramSpec, recycleCleanExit: Bool = false, restartsAllowed: Bool = true) {
        self.init(restart: spec.restart, backoff: spec.backoff, stopSignal: spec.stopSignal,
                  stopTimeout: spec.stopTimeout, recycleCleanExit: recycleCleanExit, restartsAllowed: restartsAllowed)
    }
}

/// Per-unit memory of the state machine besides the state itself.
public struct LifecycleCounters: Hashable, Sendable {
    /// Consecutive restarts since the last healthy run (uptime >= `reset_after`) or operator start.
    /// Drives the backoff delay; failed runs are given up on once it reaches `max_restarts`.
    public var restarts: Int
    /// Why histd is stopping the unit (set in `stopping`, or pending in `starting`).
    public var stopReason: StopReason?
    /// SIGKILL was sent after `stop_timeout`.
    public var killSent: Bool
    /// Start again once the current stop completes (operator restart).
    public var startAfterStop: Bool

    public init(restarts: Int = 0, stopReason: StopReason? = nil, killSent: Bool = false, startAfterStop: Bool = false) {
        self.restarts = restarts
        self.stopReason = stopReason
        self.killSent = killSent
        self.startAfterStop = startAfterStop
    }
}

/// The result of one transition.
public struct Transition: Hashable, Sendable {
    public var state: ProgramState
    public var counters: LifecycleCounters
    public var actions: [LifecycleAction]

    public init(state: ProgramState, counters: LifecycleCounters, actions: [LifecycleAction] = []) {
        self.state = state
        self.counters = counters
        self.actions = actions
    }
}
