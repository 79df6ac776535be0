import HistModel

/// A process the engine spawned and has not reaped yet.
struct LiveProcess {
    var info: InstanceInfo
    var pidfd: Int32
    /// Monotonic spawn time, for uptime.
    var startedAt: Duration
    var pid: Int32 { info.identity.pid }
}

/// One unit's runtime state on the engine thread: its lifecycle, its process, its timers, its output.
final class Unit {
    let key: UnitKey
    var spec: ProgramSpec
    /// A reload changed spawn-relevant keys: becomes `spec` at the next spawn (the running process
    /// is stopped under the config it was started with).
    var pendingSpec: ProgramSpec?
    /// Pool workers are recycled on exit 0 and get HISTD_* environment variables.
    let pool: String?
    var state: ProgramState = .stopped
    var counters = LifecycleCounters()
    var process: LiveProcess?
    /// The last process of this unit that ended: what `restart_scheduled` and `gave_up` follow.
    var lastEnded: InstanceInfo?
    var restartTimer: UInt64?
    var killTimer: UInt64?
    var output: UnitOutput
    /// Scale-down or recycle: drop the slot once its process is gone.
    var removeWhenIdle = false
    /// Reached `max_worker_age`: keeps running until `replacement` is live, then is stopped (reason `recycle`).
    var retiring = false
    /// The `recycled` reason recorded when a retiring worker is released: "max_age" or "reload".
    var retireReason: RecycleReason = .maxAge
    /// The slot started to replace this retiring one.
    var replacement: UnitKey?
    /// The `max_worker_age` timer of the current process.
    var ageTimer: UInt64?
    /// In backoff: when the restart timer fires (monotonic), published for `histctl status`.
    var restartDue: Duration?
    /// The operator action whose effects this unit's next events are (see `Engine.record(_:unit:)`).
    var link: OperatorLink?
    /// Until when (monotonic) an end of the current process is the doing of an operator's signal
    /// (`histctl signal`): `stop_timeout` after the signal. Cleared at the next spawn.
    var operatorSignalUntil: Duration?
    /// What remains of the last instance while histd stops it (kill_mode = "tree"); nil when nothing does.
    var drain: Drain?

    init(key: UnitKey, spec: ProgramSpec, pool: String?, logDir: String, timestamps: Bool, logGroup: UInt32? = nil,
         deferLogs: Bool = false) {
        self.key = key
        self.spec = spec
        self.pool = pool
        output = UnitOutput(logDir: logDir, baseName: key.description, spec: spec, timestamps: timestamps, group: logGroup,
                            deferOpen: deferLogs)
    }

    var status: UnitStatus {
        UnitStatus(unit: key, state: state, restarts: counters.restarts, instance: process?.info,
                   restartDue: state == .backoff ? restartDue : nil)
    }
}

/// A read end of a child's stdout or stderr registered with epoll.
final class PipeReader {
    let fd: Int32
    let output: UnitOutput
    let isStderr: Bool
    init(fd: Int32, output: UnitOutput, isStderr: Bool) {
        self.fd = fd
        self.output = output
        self.isStderr = isStderr
    }
}

/// What an fd in the epoll set is.
enum FDRole {
    case signals
    /// The process-wide pipe fed by `histd_signal_pipe_install`'s handler.
    case signalPipe
    case commands
    case timer
    case pidfd(UnitKey)
    case pipe(PipeReader)
}

/// What a timer in the engine's queue is for.
enum TimerKind {
    case backoff(UnitKey)
    case stopTimeout(UnitKey)
    /// A pool worker's process reached its (jittered) `max_worker_age`.
    case workerAge(UnitKey, InstanceID)
    case shutdownDeadline
    /// Re-check what remains of a unit's ended instance.
    case drainCheck(UnitKey)
    /// stop_timeout of a drain: SIGKILL, then give up.
    case drainDeadline(UnitKey)
    /// A restart after a spawn failure, held to `Engine.spawnFailureFloor` (guarded by `restartTimer`).
    case spawnRetry(UnitKey)
}
