/// Every metric histd exports: its name, and (in `MetricHelp`) its help text. docs/METRICS.md lists
/// the same set; a test checks that every name here is documented there.
enum MetricName {
    // Per program (labels program, and worker for pool workers).
    static let up = "histd_program_up"
    static let state = "histd_program_state"
    static let starts = "histd_program_starts_total"
    static let restarts = "histd_program_restarts_total"
    static let exits = "histd_program_exits_total"
    static let crashes = "histd_program_crashes_total"
    static let limitBreaches = "histd_limit_breaches_total"
    static let spawnFailures = "histd_program_spawn_failures_total"
    static let lastExitCode = "histd_program_last_exit_code"
    static let lastExitTime = "histd_program_last_exit_timestamp_seconds"
    static let restartDelay = "histd_program_restart_delay_seconds"
    static let crashLooping = "histd_program_crash_looping"
    static let givenUp = "histd_program_given_up"
    static let cpu = "histd_program_cpu_seconds_total"
    static let resident = "histd_program_resident_memory_bytes"
    static let processes = "histd_program_processes"
    static let threads = "histd_program_threads"
    static let openFDs = "histd_program_open_fds"
    // Pools (label program).
    static let poolWorkers = "histd_pool_workers"
    static let poolDesired = "histd_pool_desired_workers"
    // The system scan.
    static let zombies = "histd_zombies"
    static let orphans = "histd_orphans"
    static let systemProcesses = "histd_processes"
    // histd itself.
    static let queueDepth = "histd_writer_queue_depth"
    static let written = "histd_writer_events_written_total"
    static let dropped = "histd_writer_dropped_total"
    static let gaps = "histd_recording_gaps_total"
    static let commitSeconds = "histd_writer_commit_seconds"
    static let sampleSeconds = "histd_sample_duration_seconds"
    static let buildInfo = "histd_build_info"
    static let startTime = "histd_start_time_seconds"
    static let controlRequests = "histd_control_requests_total"
    // histd-ship (docs/FLEET.md, "Backpressure"), from its state file and retention.
    static let shipUp = "histd_ship_up"
    static let shipBacklog = "histd_ship_backlog_rows"
    static let shipLastSuccess = "histd_ship_last_success_timestamp_seconds"
    static let shipOldest = "histd_ship_oldest_unshipped_timestamp_seconds"
    static let shipStateTime = "histd_ship_state_updated_timestamp_seconds"
    static let shipGaps = "histd_ship_gaps_total"
    static let shipGapRows = "histd_ship_gap_rows_total"
}

/// Help text by metric name (one line each; the exposition's `# HELP`).
enum MetricHelp {
    static let text: [String: String] = [
        MetricName.up: "1 while the program (or pool worker) is running, else 0.",
        MetricName.state: "The lifecycle state, one-hot: 1 for the current state, 0 for the others.",
        MetricName.starts: "Processes started (exec succeeded) since histd started.",
        MetricName.restarts: "Restarts histd scheduled after an exit, under the restart policy and backoff.",
        MetricName.exits: "Processes that ended, by exit class (clean, crash, limit, stopped, killed, recycled).",
        MetricName.crashes: "Crashes (exit class crash), by reason: exit_code, or the signal name (SIGSEGV, ...).",
        MetricName.limitBreaches: "Limit breaches, by limit (max_memory_mb, cgroup_memory, tasks_max).",
        MetricName.spawnFailures: "Starts that failed before the program ran (fork, exec, chdir, cgroup).",
        MetricName.lastExitCode: "Exit code of the last process that ended; 128+N when killed by signal N.",
        MetricName.lastExitTime: "When the last process ended, seconds since the Unix epoch.",
        MetricName.restartDelay: "The backoff delay of the pending restart while in backoff, else 0.",
        MetricName.crashLooping: "1 while the program has failed at least 3 runs in a row (restart count) and is still being restarted.",
        MetricName.givenUp: "1 when histd gave up after max_restarts (state failed) until an operator starts it.",
        MetricName.cpu: "CPU time of the program's process trees (every live process, including reaped children), by mode (user, system).",
        MetricName.resident: "Resident memory of the live process tree at the last sample.",
        MetricName.processes: "Processes in the live process tree at the last sample.",
        MetricName.threads: "Threads in the live process tree at the last sample.",
        MetricName.openFDs: "Open file descriptors of the program's main process at the last sample.",
        MetricName.poolWorkers: "Worker processes of the pool that are alive.",
        MetricName.poolDesired: "The number of workers the pool should have (min_workers, autoscaler or operator).",
        MetricName.zombies: "Zombie processes on the system at the last scan.",
        MetricName.orphans: "Orphaned processes (see docs/WATCHING.md) at the last scan.",
        MetricName.systemProcesses: "Processes on the system at the last scan, by state.",
        MetricName.queueDepth: "Items (events, sweeps, scans) waiting in the history writer's queue.",
        MetricName.written: "Items (events, sweeps, scans) committed to the history database.",
        MetricName.dropped: "Items the history writer dropped (queue full or unwritable), by kind.",
        MetricName.gaps: "recording_gap rows written (each covers a run of dropped items).",
        MetricName.commitSeconds: "Time of one history database transaction, BEGIN to COMMIT.",
        MetricName.sampleSeconds: "Time to sample every supervised process tree from /proc in one sweep.",
        MetricName.buildInfo: "Always 1; the label version is histd's version.",
        MetricName.startTime: "When this histd started, seconds since the Unix epoch.",
        MetricName.controlRequests: "Requests to the control socket, by command and result.",
        MetricName.shipUp: "Whether histd-ship's state file says shipping (its last attempt committed): 1, else 0.",
        MetricName.shipBacklog: "Outbox entries and events not shipped yet, as histd-ship last counted them.",
        MetricName.shipLastSuccess: "When histd-ship last committed a central transaction, seconds since the Unix epoch.",
        MetricName.shipOldest: "Time of the oldest event not shipped yet, seconds since the Unix epoch (absent when none).",
        MetricName.shipStateTime: "When histd-ship last wrote its state file, seconds since the Unix epoch.",
        MetricName.shipGaps: "ship_gaps rows retention recorded: unshipped rows deleted past ship_max_backlog.",
        MetricName.shipGapRows: "Unshipped rows retention deleted past ship_max_backlog (what ship_gaps rows cover).",
    ]
}

import Prometheus

/// Registry shorthands that name a metric by its full name and take its help from `MetricHelp`.
extension PrometheusCollectorRegistry {
    private static func descriptor(_ name: String) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: name, unitName: "", helpText: MetricHelp.text[name] ?? "")
    }

    func counter(_ name: String, _ labels: [(String, String)] = []) -> Counter {
        labels.isEmpty ? makeCounter(descriptor: Self.descriptor(name)) : makeCounter(descriptor: Self.descriptor(name), labels: labels)
    }

    func gauge(_ name: String, _ labels: [(String, String)] = []) -> Gauge {
        labels.isEmpty ? makeGauge(descriptor: Self.descriptor(name)) : makeGauge(descriptor: Self.descriptor(name), labels: labels)
    }

    func durationHistogram(_ name: String, buckets: [Duration]) -> DurationHistogram {
        makeDurationHistogram(descriptor: Self.descriptor(name), buckets: buckets)
    }
}
