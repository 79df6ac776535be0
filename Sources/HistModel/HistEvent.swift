/// Engine-assigned number of a spawned process, unique within one supervisor run. The store maps it
/// to its own row id; it is not a pid (pids are reused).
public typealias InstanceID = UInt64

/// A spawned process, as the engine knows it at start.
public struct InstanceInfo: Hashable, Sendable {
    public var id: InstanceID
    /// Program or pool name.
    public var program: String
    /// Worker slot for pool workers (0-based), nil for plain programs.
    public var workerIndex: Int?
    public var identity: ProcessIdentity
    public var startedAt: Timestamp

    public init(id: InstanceID, program: String, workerIndex: Int? = nil, identity: ProcessIdentity, startedAt: Timestamp) {
        self.id = id
        self.program = program
        self.workerIndex = workerIndex
        self.identity = identity
        self.startedAt = startedAt
    }
}

/// The end of a spawned process. Self-contained (it repeats the start facts), so the store can
/// still write a complete instance row if the start event was lost in a recording gap.
public struct InstanceEnd: Hashable, Sendable {
    public var instance: InstanceInfo
    public var endedAt: Timestamp
    public var status: ExitStatus
    public var classification: ExitClassification
    public var uptime: Duration
    /// The last lines of stderr (at most the program's `stderr_tail_bytes`), UTF-8 with invalid bytes replaced.
    public var stderrTail: String

    public init(instance: InstanceInfo, endedAt: Timestamp, status: ExitStatus, classification: ExitClassification,
                uptime: Duration, stderrTail: String) {
        self.instance = instance
        self.endedAt = endedAt
        self.status = status
        self.classification = classification
        self.uptime = uptime
        self.stderrTail = stderrTail
    }
}

/// The names of event kinds as stored in `event_kinds.name`. Stable: scripts match on them.
///
/// Each case is the camelCase of its stored name, and its raw value is that name. The ids are not here:
/// they live in the migrations' seeds of `event_kinds`, and EmbedSQLGen generates HistStore's
/// `EventKindID` switch from them, so a kind added by a migration without a case here (or a case
/// without a seed) does not compile.
public enum EventKind: String, Hashable, Sendable, CaseIterable {
    case start, exit, crash
    case restartScheduled = "restart_scheduled"
    case gaveUp = "gave_up"
    case stopRequested = "stop_requested"
    case killed
    case limitBreach = "limit_breach"
    case spawnFailed = "spawn_failed"
    case scaleUp = "scale_up"
    case scaleDown = "scale_down"
    case recycled
    case supervisorStart = "supervisor_start"
    case supervisorStop = "supervisor_stop"
    case recordingGap = "recording_gap"
    /// A process left running by an earlier histd that died, found at startup.
    case leftover
    /// Someone asked histd to act through the control socket (done, failed or refused): see `OperatorAction`.
    case operatorAction = "operator_action"
    /// A process that remained of an instance after its main process ended (or at shutdown), which
    /// histd stopped (id 30, migrations/0006).
    case swept
    /// A config reload attempt (id 40, migration 0005; written with its `reloads` row, not by the engine).
    case configReload = "config_reload"
    /// A period in which the history database could not be written (or was deleted/replaced), written by
    /// the writer itself once writing works again (id 60, migrations/0010; not an engine fact).
    case storageOutage = "storage_outage"
}

/// One fact the engine learned. The engine hands these to a `HistorySink` and never waits for them.
public struct HistEvent: Hashable, Sendable {
    public var time: Timestamp
    /// Program or pool name.
    public var program: String
    public var payload: Payload
    /// The operator action (`OperatorAction.seq`, within this run) that caused this fact, if any:
    /// the stop, end and start a `histctl restart` brings about carry it, so the history can tell
    /// an operator's restart from a crash.
    public var operatorAction: UInt64?

    public init(time: Timestamp = .now(), program: String, payload: Payload, operatorAction: UInt64? = nil) {
        self.time = time
        self.program = program
        self.payload = payload
        self.operatorAction = operatorAction
    }

    public enum Payload: Hashable, Sendable {
        /// A process was spawned and exec succeeded.
        case started(InstanceInfo)
        /// A process ended. Stored as kind `crash` when classified `.crash`, else `exit`.
        case ended(InstanceEnd)
        /// The next start is due after `delay`; `attempt` counts consecutive failed runs (1 = first restart).
        /// `instance`: the last instance of this unit that ended (the one being restarted), nil when none
        /// ended yet (the first spawn failed).
        case restartScheduled(instance: InstanceInfo?, delay: Duration, attempt: Int, workerIndex: Int?)
        /// `max_restarts` consecutive failures: the program stays `failed` until an operator starts it.
        /// `instance`: the last instance of this unit that ended, as for `restartScheduled`.
        case gaveUp(instance: InstanceInfo?, restarts: Int, workerIndex: Int?)
        /// histd asked the program to stop.
        case stopRequested(instance: InstanceInfo, reason: StopReason, signal: Int32)
        /// The process did not stop within `stop_timeout` and was sent SIGKILL.
        case killed(instance: InstanceInfo, after: Duration)
        /// A limit was crossed (`maxMemory` values are bytes), and what was done about it. `refused`: for
        /// `tasksMax`, the forks the kernel refused since the previous poll (`pids.events` "max" delta); nil otherwise.
        case limitBreach(instance: InstanceInfo?, limit: LimitKind, observed: Int64, threshold: Int64, action: BreachAction,
                         refused: Int64? = nil)
        /// fork/exec failed; `step` names the failing call ("execve", "chdir", "open(cgroup.procs)").
        case spawnFailed(errno: Int32, step: String, reason: String, workerIndex: Int?)
        /// A pool changed size. `signal` is the measured CPU% that drove the decision.
        case scaled(up: Bool, signal: Double, from: Int, to: Int)
        /// A pool worker was replaced without backoff.
        case recycled(instance: InstanceInfo, reason: RecycleReason)
        /// A process of an earlier, unclean histd run still alive at startup, and what was done to it.
        case leftover(Leftover)
        /// An operator's request through the control socket and its result (also refusals).
        case operatorAction(OperatorAction)
        /// A process that remained of an instance (or was found at shutdown) and that histd stopped.
        case swept(SweptProcess)
    }

    /// The stored kind name for this event.
    public var kind: EventKind {
        switch payload {
        case .started: .start
        case .ended(let end): end.classification == .crash ? .crash : .exit
        case .restartScheduled: .restartScheduled
        case .gaveUp: .gaveUp
        case .stopRequested: .stopRequested
        case .killed: .killed
        case .limitBreach: .limitBreach
        case .spawnFailed: .spawnFailed
        case .scaled(let up, _, _, _): up ? .scaleUp : .scaleDown
        case .recycled: .recycled
        case .leftover: .leftover
        case .operatorAction: .operatorAction
        case .swept: .swept
        }
    }
}

/// Where the engine, the sampler and the scanner send what they learn.
///
/// Contract: every method returns at once and never blocks on I/O. An implementation that cannot
/// keep up drops and counts, and later records a `recording_gap`. Called from any thread.
public protocol HistorySink: Sendable {
    func record(_ event: HistEvent)
    func record(_ sweep: SnapshotSweep)
    func record(_ scan: ScanReport)
}

/// A sink that keeps nothing (for `histd check`, tests and benchmarks of the bare engine).
public struct DiscardingSink: HistorySink {
    public init() {}
    public func record(_ event: HistEvent) {}
    public func record(_ sweep: SnapshotSweep) {}
    public func record(_ scan: ScanReport) {}
}

/// Lifecycle states of a program (or of one pool worker slot).
public enum ProgramState: String, Hashable, Sendable, CaseIterable {
    case starting, running, backoff, stopping, stopped, exited, failed
}

/// What histd did to a process an earlier, unclean run left behind (`leftover` events, `detail.action`).
public enum LeftoverAction: String, Hashable, Sendable, CaseIterable {
    /// Stopped (stop signal, then SIGKILL if needed) and gone.
    case stopped
    /// Left alone: `[supervisor] stop_leftovers = false`.
    case left
    /// Signalled but still alive when histd gave up waiting (uninterruptible sleep, ...).
    case stillRunning = "still_running"
}

/// How a leftover was found.
public enum LeftoverSource: String, Hashable, Sendable, CaseIterable {
    /// A recorded instance of the dead run with no recorded end.
    case instanceRow = "instance_row"
    /// A process that carries the dead run's `HISTD_RUN` marker in its environment (escapers,
    /// descendants, and processes spawned in the last uncommitted moments before the crash).
    case marker
    /// A process inside a dead run's cgroup.
    case cgroup
}

/// A process an earlier, unclean histd run left running.
public struct Leftover: Hashable, Sendable {
    /// `instances.id` of the row it acts on (the dead run's instance), when there is one.
    public var row: Int64?
    public var identity: ProcessIdentity
    public var action: LeftoverAction
    public var source: LeftoverSource
    /// The signal that ended it (stop signal or SIGKILL), 0 when none was sent.
    public var signal: Int32

    public init(row: Int64?, identity: ProcessIdentity, action: LeftoverAction, source: LeftoverSource, signal: Int32 = 0) {
        self.row = row
        self.identity = identity
        self.action = action
        self.source = source
        self.signal = signal
    }
}

/// Why histd swept a process (`swept` events, `detail.reason`).
public enum SweepReason: String, Hashable, Sendable, CaseIterable {
    /// The instance's main process ended and this process remained of its tree.
    case instanceEnded = "instance_ended"
    /// Found by the final sweep at shutdown.
    case shutdown
}

/// A process histd stopped because it remained of an instance: pid and start time, the instance it
/// belonged to (when known), the last signal sent, and whether it is gone.
public struct SweptProcess: Hashable, Sendable {
    public var identity: ProcessIdentity
    public var instance: InstanceInfo?
    /// The last signal histd sent it (the stop signal, or SIGKILL after stop_timeout).
    public var signal: Int32
    public var reason: SweepReason
    /// False when it was still alive when histd stopped waiting for it.
    public var gone: Bool

    public init(identity: ProcessIdentity, instance: InstanceInfo?, signal: Int32, reason: SweepReason, gone: Bool = true) {
        self.identity = identity
        self.instance = instance
        self.signal = signal
        self.reason = reason
        self.gone = gone
    }
}
