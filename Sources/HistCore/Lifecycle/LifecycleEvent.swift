import HistModel

/// Something that happened to one unit, as input to `Lifecycle.handle`. Time-dependent facts
/// (uptime) come inside the event, so the state machine itself never reads a clock.
public enum LifecycleEvent: Hashable, Sendable {
    /// Operator (or autostart) asks the unit to run.
    case startRequested
    /// Operator asks for a stop followed by a fresh start.
    case restartRequested
    /// The spawn succeeded (exec done).
    case spawned
    /// The spawn failed at `step` ("execve", "chdir", ...) with `errno`.
    case spawnFailed(errno: Int32, step: String)
    /// The unit's process was reaped.
    case exited(status: ExitStatus, uptime: Duration)
    /// The unit's process was reaped after the kernel killed it at a limit histd set (a cgroup OOM
    /// kill): classified `limit`, not `crash`, and restarted under backoff like a limit stop.
    case exitedAtLimit(status: ExitStatus, uptime: Duration, limit: LimitKind)
    /// The unit's process was reaped within `stop_timeout` of a signal an operator sent it through
    /// histd (`histctl signal`): the operator's doing, not the program's. Never a crash, never counted
    /// toward backoff or `max_restarts`; restarted at once when the restart policy wants it running.
    case exitedOnOperatorSignal(status: ExitStatus, uptime: Duration)
    /// The backoff timer fired.
    case backoffElapsed
    /// `stop_timeout` passed after the stop signal.
    case stopTimeoutElapsed
    /// histd wants the unit stopped.
    case stopRequested(StopReason)
    /// A watcher saw a limit crossed; the unit is stopped with reason `.limit` and restarted under backoff.
    case limitBreached(limit: LimitKind, observed: Int64, threshold: Int64)
    /// Operator reset: forget the restart count; a `failed` unit becomes `stopped`.
    case reset
}
