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
    /// A descendant of a supervised program that outlived its parent and was re-parented to histd.
    case adopted
    /// A config reload attempt (id 40, migration 0005; written with its `reloads` row, not by the engine).
    case configReload = "config_reload"
}

/// One fact the engine learned. The engine hands these to a `HistorySink` and never waits for them.
public struct HistEvent: Hashable, Sendable {
    public var time: Timestamp
    /// Program or pool name.
    public var program: String
    public var payload: Payload

    public init(time: Timestamp = .now(), program: String, payload: Payload) {
        self.time = time
        self.program = program
        self.payload = payload
    }

    public enum Payload: Hashable, Sendable {
        /// A process was spawned and exec succeeded.
        case started(InstanceInfo)
        /// A process ended. Stored as kind `crash` when classified `.crash`, else `exit`.
        case ended(InstanceEnd)
        /// The next start is due after `delay`; `attempt` counts consecutive failed runs (1 = first restart).
        case restartScheduled(delay: Duration, attempt: Int, workerIndex: Int?)
        /// `max_restarts` consecutive failures: the program stays `failed` until an operator starts it.
        case gaveUp(restarts: Int, workerIndex: Int?)
        /// histd asked the program to stop (`reason`: "shutdown", "limit", "operator", "scale_down", "recycle").
        case stopRequested(instance: InstanceInfo, reason: String, signal: Int32)
        /// The process did not stop within `stop_timeout` and was sent SIGKILL.
        case killed(instance: InstanceInfo, after: Duration)
        /// A limit was crossed. `limit`: "max_memory_mb" (values in bytes), "cgroup_memory" (oom), "tasks_max".
        /// `action`: "stop", "oom_kill", "fork_refused".
        case limitBreach(instance: InstanceInfo?, limit: String, observed: Int64, threshold: Int64, action: String)
        /// fork/exec failed; `step` names the failing call ("execve", "chdir", "open(cgroup.procs)").
        case spawnFailed(errno: Int32, step: String, reason: String, workerIndex: Int?)
        /// A pool changed size. `signal` is the measured CPU% that drove the decision.
        case scaled(up: Bool, signal: Double, from: Int, to: Int)
        /// A pool worker was replaced without backoff: `reason` is "exit0" or "max_age".
        case recycled(instance: InstanceInfo, reason: String)
        /// A descendant of this program re-parented to histd (its parent exited first).
        case adopted(identity: ProcessIdentity, name: String)
        /// A process of an earlier, unclean histd run still alive at startup; `action` is "stopped" or "left".
        case leftover(identity: ProcessIdentity, action: String)
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
        case .adopted: .adopted
        case .leftover: .leftover
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
