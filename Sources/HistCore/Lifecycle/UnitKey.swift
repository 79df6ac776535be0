/// One supervised "unit": a program, or one worker slot of a pool. Each unit has its own lifecycle
/// (state, restart count, timers); a pool of N workers is N units sharing the pool's name.
public struct UnitKey: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// Program or pool name.
    public var program: String
    /// Worker slot (0-based) for pool workers, nil for plain programs.
    public var workerIndex: Int?

    public init(program: String, workerIndex: Int? = nil) {
        self.program = program
        self.workerIndex = workerIndex
    }

    /// "web" or "workers.2" (the pool worker's log files use the same form).
    public var description: String {
        if let workerIndex { "\(program).\(workerIndex)" } else { program }
    }

    public static func < (a: UnitKey, b: UnitKey) -> Bool {
        if a.program != b.program { return a.program < b.program }
        return (a.workerIndex ?? -1) < (b.workerIndex ?? -1)
    }
}

/// Why histd asked a unit to stop. The raw value is the `reason` stored with `stop_requested`.
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
