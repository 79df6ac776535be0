import HistModel

/// How a change of one config key takes effect while histd runs.
public enum KeyEffect: String, Hashable, Sendable, Codable, CaseIterable {
    /// Spawn-relevant: the program (every worker of a pool) is restarted so the new value applies.
    case restart
    /// Supervision-only: the new value applies in place, from the next decision that reads it; no restart.
    case inPlace = "in_place"
    /// A pool's size or autoscaler setting: the pool is re-sized within the new bounds; no restart.
    case scale
    /// Cannot change while histd runs: the whole reload is refused, naming the key.
    case refuse
}

/// One classified key: the Swift field it lives in (as `Mirror` names it), its TOML key, its effect,
/// and how to tell whether two values differ.
public struct KeyRule<Spec>: Sendable {
    /// Stored property name, e.g. `stopTimeout` (nested ones as `backoff.maxRestarts`).
    public let field: String
    /// TOML key, e.g. `stop_timeout`.
    public let key: String
    public let effect: KeyEffect
    let differs: @Sendable (Spec, Spec) -> Bool

    init<V: Equatable>(_ field: String, _ key: String, _ effect: KeyEffect, _ value: @escaping @Sendable (Spec) -> V) {
        self.field = field
        self.key = key
        self.effect = effect
        self.differs = { value($0) != value($1) }
    }
}

/// Every key of `ProgramSpec`, `PoolSpec` and `SupervisorSpec`, classified for reload. Policy as data:
/// `ReloadPlanner` only walks these tables, and a test fails when a stored property has no rule.
public enum ReloadKeys {
    /// `ProgramSpec` fields that are not keys (the table name).
    public static let programIdentity: Set<String> = ["name"]

    public static let program: [KeyRule<ProgramSpec>] = [
        .init("command", "command", .restart) { $0.command },
        .init("cwd", "cwd", .restart) { $0.cwd },
        .init("env", "env", .restart) { $0.env },
        // autostart is read when histd starts; a running program keeps running, a stopped one stays stopped.
        .init("autostart", "autostart", .inPlace) { $0.autostart },
        .init("restart", "restart", .inPlace) { $0.restart },
        .init("backoff.restartDelay", "restart_delay", .inPlace) { $0.backoff.restartDelay },
        .init("backoff.backoffFactor", "backoff_factor", .inPlace) { $0.backoff.backoffFactor },
        .init("backoff.maxBackoff", "max_backoff", .inPlace) { $0.backoff.maxBackoff },
        .init("backoff.maxRestarts", "max_restarts", .inPlace) { $0.backoff.maxRestarts },
        .init("backoff.resetAfter", "reset_after", .inPlace) { $0.backoff.resetAfter },
        .init("stopSignal", "stop_signal", .inPlace) { $0.stopSignal },
        .init("stopTimeout", "stop_timeout", .inPlace) { $0.stopTimeout },
        .init("stopOrder", "stop_order", .inPlace) { $0.stopOrder },
        // Checked by histd's watcher on every sample, so the new limit applies at the next sample.
        .init("maxMemoryMB", "max_memory_mb", .inPlace) { $0.maxMemoryMB },
        // cgroup limits are written when the process is placed in its group, before exec.
        .init("cgroup", "cgroup", .restart) { $0.cgroup == nil },
        .init("cgroup.memoryMax", "cgroup.memory_max", .restart) { $0.cgroup?.memoryMax },
        .init("cgroup.cpuQuotaPercent", "cgroup.cpu_quota", .restart) { $0.cgroup?.cpuQuotaPercent },
        .init("cgroup.tasksMax", "cgroup.tasks_max", .restart) { $0.cgroup?.tasksMax },
        // The log files of a unit are opened with these settings at its first spawn after the change.
        .init("logMaxBytes", "log_max_size", .restart) { $0.logMaxBytes },
        .init("logKeep", "log_keep", .restart) { $0.logKeep },
        .init("stderrTailBytes", "stderr_tail", .restart) { $0.stderrTailBytes },
        // Read when an instance ends or is stopped: the next end uses the new mode.
        .init("killMode", "kill_mode", .inPlace) { $0.killMode },
        // user, group, umask, env_file, clear_env, rlimits, no_new_privileges: applied in the child before exec.
        .init("exec", "user/group/umask/env_file/clear_env/rlimits/no_new_privileges", .restart) { $0.exec },
    ]

    /// `PoolSpec` fields other than `worker` (whose keys are `program`'s).
    public static let pool: [KeyRule<PoolSpec>] = [
        .init("minWorkers", "min_workers", .scale) { $0.minWorkers },
        .init("maxWorkers", "max_workers", .scale) { $0.maxWorkers },
        // The autoscaler is restarted with the new settings (its thread reads them at start).
        .init("scaleOn", "scale_on", .scale) { $0.scaleOn },
        .init("cpuTarget", "cpu_target", .scale) { $0.cpuTarget },
        .init("scaleInterval", "scale_interval", .scale) { $0.scaleInterval },
        .init("scaleDownAfter", "scale_down_after", .scale) { $0.scaleDownAfter },
        // Applies to the age timer of each worker process started after the reload.
        .init("maxWorkerAge", "max_worker_age", .inPlace) { $0.maxWorkerAge },
        .init("ageJitter", "age_jitter", .inPlace) { $0.ageJitter },
    ]

    public static let supervisor: [KeyRule<SupervisorSpec>] = [
        .init("db", "db", .refuse) { $0.db },
        .init("logDir", "log_dir", .refuse) { $0.logDir },
        .init("shutdownTimeout", "shutdown_timeout", .inPlace) { $0.shutdownTimeout },
        // The watcher thread and the writer read these when they start.
        .init("snapshotInterval", "snapshot_interval", .refuse) { $0.snapshotInterval },
        .init("scanInterval", "scan_interval", .refuse) { $0.scanInterval },
        .init("retention", "retention", .refuse) { $0.retention },
        .init("snapshotRetention", "snapshot_retention", .refuse) { $0.snapshotRetention },
        .init("orphanIgnore", "orphan_ignore", .refuse) { $0.orphanIgnore },
        // Only read at startup, about an earlier histd's leftovers: a new value matters at the next start.
        .init("stopLeftovers", "stop_leftovers", .inPlace) { $0.stopLeftovers },
        // Changing the line format in the middle of a run would mix formats in one file.
        .init("logTimestamps", "log_timestamps", .refuse) { $0.logTimestamps },
        // The control socket is made once at start; moving it live would strand every histctl that knows the old path.
        .init("controlSocket", "control_socket", .refuse) { $0.controlSocket },
        .init("controlGroup", "control_group", .refuse) { $0.controlGroup },
        .init("readGroup", "read_group", .refuse) { $0.readGroup },
        // Only read at startup (the previous run's restart state): a new value matters at the next start.
        .init("restoreState", "restore_state", .inPlace) { $0.restoreState },
        // The group of the database and log files is set when they are created or opened.
        .init("group", "group", .refuse) { $0.group },
        .init("groupID", "group", .refuse) { $0.groupID },
        // The metrics endpoint and textfile thread start with histd.
        .init("metrics", "metrics_listen/metrics_textfile/metrics_interval/metrics_allow_remote", .refuse) { $0.metrics },
    ]
}
