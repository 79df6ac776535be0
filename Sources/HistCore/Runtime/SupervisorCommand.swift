import HistModel

/// A request to the engine from another thread (operator, control socket, sampler, pool controller).
/// Each becomes a lifecycle event of the units it names. Unknown names are logged and ignored.
public enum SupervisorCommand: Hashable, Sendable {
    /// Start a program (every worker slot of a pool) that is stopped, exited, failed or in backoff.
    case start(program: String)
    /// Stop a program (every worker of a pool); it stays stopped until started.
    case stop(program: String)
    /// Stop, then start again.
    case restart(program: String)
    /// Forget the restart count; a `failed` program becomes `stopped`.
    case reset(program: String)
    /// Ordered shutdown of everything, then the engine thread ends (like SIGTERM).
    case shutdown
    /// A watcher saw `instance` cross a limit: record it, stop the instance, restart under backoff.
    case limitBreached(instance: InstanceID, limit: String, observed: Int64, threshold: Int64)
    /// Resize a pool: new slots get the next worker indexes; shrinking stops the highest indexes
    /// (reason `scale_down`) and removes their slots once their processes are gone.
    case setDesiredWorkers(pool: String, count: Int)
    /// Apply a reload plan (see `ReloadPlan`): start added programs, stop removed ones in stop_order,
    /// restart changed ones, update the rest in place, re-size pools. Never blocks the engine.
    case reload(ReloadRequest)
}

/// A unit as seen from outside the engine thread (published on every change).
public struct UnitStatus: Hashable, Sendable {
    public var unit: UnitKey
    public var state: ProgramState
    /// Consecutive restarts (see `LifecycleCounters.restarts`).
    public var restarts: Int
    /// The live process, if any.
    public var instance: InstanceInfo?

    public init(unit: UnitKey, state: ProgramState, restarts: Int, instance: InstanceInfo?) {
        self.unit = unit
        self.state = state
        self.restarts = restarts
        self.instance = instance
    }
}
