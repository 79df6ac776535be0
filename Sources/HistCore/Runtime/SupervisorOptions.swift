import HistModel

/// How the engine fits into its process. `histd run` uses the defaults.
public struct SupervisorOptions: Sendable {
    /// Which exits the engine collects.
    public enum ReapScope: Sendable, Hashable {
        /// `waitpid(-1)`: every child of the process, including descendants re-parented to histd as
        /// subreaper. The engine must then be the only reaper in the process (histd itself).
        case allChildren
        /// Only the processes the engine spawned (`waitpid(pid)`), for embedding the engine in a
        /// process that has other children (tests). Re-parented descendants are not reaped.
        case supervisedOnly
    }

    public var reapScope: ReapScope
    /// Treat SIGTERM/SIGINT as shutdown and log SIGHUP. They must be blocked in every thread
    /// (`Supervisor.prepareProcess()`) before any thread starts, or the signalfd never sees them.
    public var handleSignals: Bool
    /// Base environment of every child; nil = this process's environment.
    public var environment: [String: String]?
    /// At the end of shutdown: how long leftover descendants get after SIGTERM before SIGKILL.
    public var descendantGrace: Duration
    /// Seed of the pool age-jitter generator; nil = random. Tests seed it for a repeatable spread.
    public var ageJitterSeed: UInt64?
    /// Run an autoscaler for each pool whose `max_workers > min_workers`.
    public var autoscale: Bool
    /// Where autoscalers read CPU counters; nil = `/proc` (`ProcCPUProbe`).
    public var cpuProbe: (any PoolCPUProbe)?
    /// The key in every child's `HISTD_RUN` marker (`histd run`: the database path). A histd recovers
    /// only leftovers whose marker has its key, so histds with different keys never touch each other's processes.
    public var ownerKey: String
    /// Restart state of plain programs from the previous run (`[supervisor] restore_state`), by name.
    public var restored: [String: RestoredState] = [:]
    /// Called on the engine thread when SIGHUP arrives (with `handleSignals`), with its sender. It
    /// must return at once (hand the reload to another thread, which posts `.reload`); nil = log and ignore.
    public var onHangup: (@Sendable (SignalSender) -> Void)?

    public init(reapScope: ReapScope = .allChildren, handleSignals: Bool = true,
                environment: [String: String]? = nil, descendantGrace: Duration = .seconds(2),
                ageJitterSeed: UInt64? = nil, autoscale: Bool = true, cpuProbe: (any PoolCPUProbe)? = nil,
                ownerKey: String = "embedded") {
        self.ownerKey = ownerKey
        self.reapScope = reapScope
        self.handleSignals = handleSignals
        self.environment = environment
        self.descendantGrace = descendantGrace
        self.ageJitterSeed = ageJitterSeed
        self.autoscale = autoscale
        self.cpuProbe = cpuProbe
    }
}
