/// Everything histd needs to run one program, after the config has been validated.
/// Paths are absolute (the config loader resolves them against the config file's folder).
public struct ProgramSpec: Hashable, Sendable, Codable {
    /// Unique among programs and pools.
    public var name: String
    /// argv; `command[0]` is resolved to an absolute path by the config loader.
    public var command: [String]
    public var cwd: String?
    /// Extra environment, on top of histd's own environment.
    public var env: [String: String]
    public var autostart: Bool
    public var restart: RestartPolicy
    public var backoff: BackoffPolicy
    /// Signal number sent first on stop (default SIGTERM = 15).
    public var stopSignal: Int32
    /// How long to wait after the stop signal before SIGKILL.
    public var stopTimeout: Duration
    /// Shutdown runs in ascending groups; startup in descending.
    public var stopOrder: Int
    /// RSS limit of the program's process tree, in MiB; nil = none.
    public var maxMemoryMB: Int?
    /// cgroup limits; nil = no cgroup of its own.
    public var cgroup: CgroupLimits?
    /// stdout/stderr log files (LOG_DIR/NAME.out and NAME.err) rotate at this size...
    public var logMaxBytes: Int
    /// ...keeping this many old files (NAME.err.1 ... NAME.err.N).
    public var logKeep: Int
    /// How much of stderr's end to keep in memory for the crash record.
    public var stderrTailBytes: Int
    /// What an instance owns: its whole tree (default) or only its main process.
    public var killMode: KillMode
    /// Identity, umask, environment base and rlimits applied in the child before exec.
    public var exec: ExecContext

    public init(name: String, command: [String], cwd: String? = nil, env: [String: String] = [:],
                autostart: Bool = true, restart: RestartPolicy = .onFailure, backoff: BackoffPolicy = .init(),
                stopSignal: Int32 = 15, stopTimeout: Duration = .seconds(10), stopOrder: Int = 0,
                maxMemoryMB: Int? = nil, cgroup: CgroupLimits? = nil,
                logMaxBytes: Int = 10 * 1024 * 1024, logKeep: Int = 5, stderrTailBytes: Int = 4096,
                killMode: KillMode = .tree, exec: ExecContext = ExecContext()) {
        self.name = name
        self.command = command
        self.cwd = cwd
        self.env = env
        self.autostart = autostart
        self.restart = restart
        self.backoff = backoff
        self.stopSignal = stopSignal
        self.stopTimeout = stopTimeout
        self.stopOrder = stopOrder
        self.maxMemoryMB = maxMemoryMB
        self.cgroup = cgroup
        self.logMaxBytes = logMaxBytes
        self.logKeep = logKeep
        self.stderrTailBytes = stderrTailBytes
        self.killMode = killMode
        self.exec = exec
    }
}

/// `kill_mode`: what histd stops when an instance ends or is stopped.
public enum KillMode: String, Hashable, Sendable, CaseIterable, Codable {
    /// The instance owns its whole tree: when its main process exits for any reason, histd stops what
    /// remains (its process group, its session, its cgroup, and descendants re-parented to histd
    /// that carry its marker) before it restarts the program or reports it stopped.
    case tree
    /// Only the main process: stop signals go to it alone and its descendants are left running
    /// (for programs that hand off to detached children on purpose). histd's final sweep at
    /// shutdown still stops them.
    case process
}

/// `[program.X] cgroup = { memory_max = "512M", cpu_quota = "50%", tasks_max = 64 }`.
public struct CgroupLimits: Hashable, Sendable, Codable {
    /// Bytes; nil = no memory limit.
    public var memoryMax: Int64?
    /// Percent of one CPU (50 = half a core, 200 = two cores); nil = no quota.
    public var cpuQuotaPercent: Double?
    /// Max tasks (processes + threads); nil = no limit.
    public var tasksMax: Int?

    public init(memoryMax: Int64? = nil, cpuQuotaPercent: Double? = nil, tasksMax: Int? = nil) {
        self.memoryMax = memoryMax
        self.cpuQuotaPercent = cpuQuotaPercent
        self.tasksMax = tasksMax
    }
}

/// `[pool.X]`: N copies of a worker program, sized between min and max by a CPU signal.
public struct PoolSpec: Hashable, Sendable, Codable {
    /// Per-worker settings (restart, backoff, stop_*, limits, cgroup, stop_order). `worker.name` is the pool name.
    public var worker: ProgramSpec
    public var minWorkers: Int
    public var maxWorkers: Int
    public var scaleOn: ScaleSignal
    /// Percent.
    public var cpuTarget: Double
    public var scaleInterval: Duration
    public var scaleDownAfter: Duration
    /// nil = never recycle by age.
    public var maxWorkerAge: Duration?
    /// Fraction (0...1) of `maxWorkerAge` used as random jitter so workers started together are not recycled together.
    public var ageJitter: Double

    public var name: String { worker.name }

    public init(worker: ProgramSpec, minWorkers: Int = 1, maxWorkers: Int = 1, scaleOn: ScaleSignal = .poolCPU,
                cpuTarget: Double = 70, scaleInterval: Duration = .seconds(5), scaleDownAfter: Duration = .seconds(60),
                maxWorkerAge: Duration? = nil, ageJitter: Double = 0.1) {
        self.worker = worker
        self.minWorkers = minWorkers
        self.maxWorkers = maxWorkers
        self.scaleOn = scaleOn
        self.cpuTarget = cpuTarget
        self.scaleInterval = scaleInterval
        self.scaleDownAfter = scaleDownAfter
        self.maxWorkerAge = maxWorkerAge
        self.ageJitter = ageJitter
    }
}

/// What a pool's autoscaler measures.
public enum ScaleSignal: String, Hashable, Sendable, CaseIterable, Codable {
    /// CPU% of the pool's processes, per worker (100 = each worker uses one full core).
    case poolCPU = "pool_cpu"
    /// CPU% of the whole machine (all cores).
    case systemCPU = "system_cpu"
}
