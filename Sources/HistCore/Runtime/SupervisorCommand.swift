import HistModel

/// A request to the engine from another thread (operator, control socket, sampler, pool controller).
/// Each becomes a lifecycle event of the units it names, and gets an answer (`CommandOutcome`)
/// through the `CommandReply` that `Supervisor.post` returns.
///
/// A `program` name is a program, a pool (every worker slot), or one pool worker as the logs name
/// it (`jobs.0`).
public enum SupervisorCommand: Hashable, Sendable {
    /// Start a program (every worker slot of a pool) that is stopped, exited, failed or in backoff.
    case start(program: String)
    /// Stop a program (every worker of a pool); it stays stopped until started.
    case stop(program: String)
    /// Stop, then start again.
    case restart(program: String)
    /// Send `signal` to the running process group of each unit named (nothing else changes).
    case signal(program: String, signal: Int32)
    /// An operator's resize: like `setDesiredWorkers`, but refused outside `min_workers...max_workers`.
    case scale(pool: String, count: Int)
    /// The autoscaler's resize, with the signal that drove it (recorded by the engine as `scale_up`/`scale_down`).
    case autoscale(pool: String, count: Int, signal: Double)
    /// Forget the restart count; a `failed` program becomes `stopped`.
    case reset(program: String)
    /// Ordered shutdown of everything, then the engine thread ends (like SIGTERM).
    case shutdown
    /// A watcher saw `instance` cross a limit: record it, stop the instance, restart under backoff.
    case limitBreached(instance: InstanceID, limit: LimitKind, observed: Int64, threshold: Int64)
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
    /// In `backoff`: when (CLOCK_MONOTONIC, `MonotonicInstant.now().sinceOrigin`) the next start is due.
    public var restartDue: Duration?

    public init(unit: UnitKey, state: ProgramState, restarts: Int, instance: InstanceInfo?, restartDue: Duration? = nil) {
        self.unit = unit
        self.state = state
        self.restarts = restarts
        self.instance = instance
        self.restartDue = restartDue
    }

    /// Time left until the next start when in backoff (nil otherwise), measured now.
    public var backoffRemaining: Duration? {
        guard state == .backoff, let restartDue else { return nil }
        return max(.zero, restartDue - MonotonicInstant.now().sinceOrigin)
    }
}

/// How a posted command is carried out.
public struct CommandOptions: Hashable, Sendable {
    /// Answer once the action has taken effect (a restarted unit runs its new instance, a stopped
    /// unit's process is gone, a pool has its new size), rather than once it was begun.
    public var wait: Bool
    /// The operator action this command belongs to (see `HistEvent.operatorAction`): the events it
    /// causes carry it, so that the history links them to who asked.
    public var operatorAction: UInt64?

    public init(wait: Bool = false, operatorAction: UInt64? = nil) {
        self.wait = wait
        self.operatorAction = operatorAction
    }
}

/// A command in the engine's queue with its answer slot.
struct CommandRequest: Sendable {
    var command: SupervisorCommand
    var options: CommandOptions
    var reply: CommandReply
}
