import HistModel

/// What the runtime must do after a transition, as values, in order.
public enum LifecycleAction: Hashable, Sendable {
    /// Spawn a new process for the unit; the runtime answers with `.spawned` or `.spawnFailed`.
    case spawn
    /// Arm the backoff timer; a zero delay means "now, in this loop iteration".
    case scheduleRestart(delay: Duration)
    case cancelRestartTimer
    /// Send `signal` to the unit's whole process group.
    case signalGroup(Int32)
    /// Arm the `stop_timeout` timer.
    case armKillTimer(Duration)
    case cancelKillTimer
    /// SIGKILL the unit's whole process group.
    case killGroup
    /// Record the end of the current process with this classification (an `ended` event).
    case recordEnd(ExitClassification)
    /// The process that histd stopped is gone: kill whatever else is left of it (process group
    /// stragglers, the program's cgroup) so nothing it started outlives the stop.
    case releaseResources
    /// Hand a fact to the history sink.
    case emit(LifecycleNotice)
}

/// Facts the state machine reports; the runtime turns them into `HistEvent`s by adding the
/// instance it knows about.
public enum LifecycleNotice: Hashable, Sendable {
    case restartScheduled(delay: Duration, attempt: Int)
    case gaveUp(restarts: Int)
    case stopRequested(reason: StopReason, signal: Int32)
    case killed(after: Duration)
    case spawnFailed(errno: Int32, step: String)
    case limitBreach(limit: LimitKind, observed: Int64, threshold: Int64)
    /// A pool worker exited 0 and is replaced at once, without backoff.
    case recycled(reason: RecycleReason)
}
