#if canImport(Glibc)
import Glibc
#endif
import CShim
import HistModel
import HistSys
import Logging

extension Engine {
    /// The shortest delay before a failed spawn is tried again, whatever `restart_delay` says: a
    /// missing binary with `restart_delay = "0s"` gives at most 10 `spawn_failed` a second per unit.
    static let spawnFailureFloor: Duration = .milliseconds(100)

    /// Policy of a unit right now (restarts are off once shutdown began).
    func policy(for unit: Unit) -> UnitPolicy {
        // A retiring worker is not restarted whatever ends it: its replacement already runs.
        UnitPolicy(unit.spec, recycleCleanExit: unit.pool != nil, restartsAllowed: phase == .running && !unit.retiring)
    }

    /// Creates the units and starts them in descending `stop_order` (the reverse of shutdown).
    ///
    /// Their log files are opened after the spawns, a few per loop iteration (`openDeferredLogs`):
    /// on a first start that creates every file, and under strace creating 1,000 files took longer
    /// than the 500 spawns (not yet shown on a quiet box: BENCHMARKS.md, "Deferred log files").
    /// Nothing is lost by waiting: output waits in the pipes, and a unit's first output opens its
    /// files at once, after the start markers that waited in memory.
    func startUp() {
        var all: [Unit] = []
        for spec in programs.values {
            all.append(addUnit(UnitKey(program: spec.name), spec: spec, pool: nil, deferLogs: true))
        }
        for pool in pools.values {
            desiredWorkers[pool.name] = pool.minWorkers
            shared.publishDesired(pool: pool.name, count: pool.minWorkers)
            for i in 0..<pool.minWorkers {
                all.append(addUnit(UnitKey(program: pool.name, workerIndex: i), spec: pool.worker, pool: pool.name, deferLogs: true))
            }
        }
        all.sort { $0.spec.stopOrder != $1.spec.stopOrder ? $0.spec.stopOrder > $1.spec.stopOrder : $0.key < $1.key }
        logger.notice("supervising \(programs.count) program(s) and \(pools.count) pool(s)")
        for unit in all {
            if unit.pool == nil, let restored = options.restored[unit.key.program], restored != .fresh {
                restore(unit, restored)
            } else if unit.pool != nil || unit.spec.autostart {
                deliver(.startRequested, to: unit)
            }
        }
    }

    /// Opens up to `limit` units' deferred log files (all of them with nil), oldest first, and logs
    /// what could not be opened. A unit whose output came first opened its own files already (its
    /// problems are logged here too, once).
    func openDeferredLogs(limit: Int? = nil) {
        let count = min(limit ?? unopenedLogs.count, unopenedLogs.count)
        for unit in unopenedLogs.prefix(count) {
            unit.output.openDeferred()
            reportLogProblems(unit.key, unit.output.openProblems)
        }
        unopenedLogs.removeFirst(count)
    }

    private func reportLogProblems(_ key: UnitKey, _ problems: [FileProblem]) {
        for problem in problems {
            logger.error("\(key): log file \(problem); its output is dropped until the file can be opened")
        }
    }

    /// Puts a unit back where the previous run left it: `failed` stays failed until an operator
    /// starts it; a backoff waits what is left of its delay, with its attempt count.
    private func restore(_ unit: Unit, _ restored: RestoredState) {
        switch restored {
        case .fresh: return
        case .failed(let restarts):
            unit.state = .failed
            unit.counters.restarts = restarts
            logger.notice("\(unit.key): failed in the previous run (gave up after \(restarts) restart(s)); stays failed until started")
        case .backoff(let remaining, let attempt):
            unit.state = .backoff
            unit.counters.restarts = attempt
            unit.restartDue = MonotonicInstant.now().sinceOrigin + remaining
            unit.restartTimer = timers.schedule(at: unit.restartDue!, .backoff(unit.key))
            // The instance that ended is the previous run's; this run has none to name.
            sink.record(HistEvent(program: unit.key.program, payload: .restartScheduled(instance: nil, delay: remaining, attempt: attempt, workerIndex: nil)))
            logger.notice("\(unit.key): in backoff in the previous run: restart \(attempt) in \(HistDuration.format(remaining))")
        }
        shared.publish(unit.status)
    }

    @discardableResult
    func addUnit(_ key: UnitKey, spec: ProgramSpec, pool: String?, deferLogs: Bool = false) -> Unit {
        let unit = Unit(key: key, spec: spec, pool: pool, logDir: supervisorSpec.logDir, timestamps: supervisorSpec.logTimestamps,
                        logGroup: supervisorSpec.groupID, deferLogs: deferLogs)
        if deferLogs {
            unopenedLogs.append(unit)
        } else {
            reportLogProblems(unit.key, unit.output.openProblems)
        }
        units[key] = unit
        shared.publish(unit.status)
        return unit
    }

    /// Feeds one event to a unit's state machine and carries out the resulting actions in order.
    /// Actions that produce events (spawn) feed them back here, so a `restart_delay = 0` crash is
    /// replaced within the same loop iteration as its reap.
    func deliver(_ event: LifecycleEvent, to unit: Unit, ending: LiveProcess? = nil) {
        let t = Lifecycle.handle(state: unit.state, event: event, policy: policy(for: unit), counters: unit.counters)
        unit.state = t.state
        unit.counters = t.counters
        // Publish the new state before the actions record their events, so a reader that saw an
        // event (gave_up, ...) never reads the state from before it.
        shared.publish(unit.status)
        var line = LogLine(unit: unit.key, pid: (ending ?? unit.process)?.pid)
        var followUps: [LifecycleEvent] = []
        for action in t.actions {
            perform(action, unit: unit, ending: ending, event: event, line: &line, followUps: &followUps)
        }
        if let text = line.text { line.level == .info ? logger.info("\(text)") : logger.warning("\(text)") }
        shared.publish(unit.status)
        if unit.pool != nil { poolsDirty = true }
        for next in followUps { deliver(next, to: unit) }
        if unit.removeWhenIdle && unit.process == nil && unit.drain == nil && [.stopped, .exited, .failed].contains(unit.state) {
            removeUnit(unit)
        }
    }

    private func perform(_ action: LifecycleAction, unit: Unit, ending: LiveProcess?, event: LifecycleEvent,
                         line: inout LogLine, followUps: inout [LifecycleEvent]) {
        let now = Timestamp.now()
        let instance = (ending ?? unit.process)?.info
        switch action {
        case .spawn:
            // The previous instance's tree is still being stopped: spawn once it is gone.
            if let drain = unit.drain { drain.spawnPending = true } else { followUps.append(spawnNow(unit)) }
        case .scheduleRestart(let delay):
            timers.cancel(unit.restartTimer)
            if case .spawnFailed = event, delay < Self.spawnFailureFloor {
                // Never retry a failed spawn in the same call chain: back to the loop, at a bounded rate.
                unit.restartTimer = timers.schedule(at: MonotonicInstant.now().sinceOrigin + Self.spawnFailureFloor, .spawnRetry(unit.key))
            } else if delay <= .zero {
                unit.restartTimer = nil
                followUps.append(.backoffElapsed)
            } else {
                unit.restartDue = MonotonicInstant.now().sinceOrigin + delay
                unit.restartTimer = timers.schedule(at: unit.restartDue!, .backoff(unit.key))
            }
        case .cancelRestartTimer:
            timers.cancel(unit.restartTimer)
            unit.restartTimer = nil
        case .signalGroup(let sig):
            signalGroup(unit, sig)
        case .armKillTimer(let timeout):
            timers.cancel(unit.killTimer)
            unit.killTimer = timers.schedule(at: MonotonicInstant.now().sinceOrigin + timeout, .stopTimeout(unit.key))
        case .cancelKillTimer:
            timers.cancel(unit.killTimer)
            unit.killTimer = nil
        case .killGroup:
            signalGroup(unit, SIGKILL)
        case .releaseResources:
            // Whatever is left of the stopped tree (group stragglers, cgroup members, escapers) is
            // drained on engine timers (started at the reap); nothing here may block.
            break
        case .recordEnd(let classification):
            guard let ending else { return }
            let status: ExitStatus, uptime: Duration
            switch event {
            case .exited(let s, let u), .exitedAtLimit(let s, let u, _), .exitedOnOperatorSignal(let s, let u): (status, uptime) = (s, u)
            default: return
            }
            let end = InstanceEnd(instance: ending.info, endedAt: now, status: status, classification: classification,
                                  uptime: uptime, stderrTail: unit.output.tail.text)
            unit.lastEnded = ending.info
            record(HistEvent(time: now, program: unit.key.program, payload: .ended(end)), unit: unit)
            line.ended(status: status, classification: classification, uptime: uptime)
        case .emit(let notice):
            emit(notice, unit: unit, instance: instance, time: now, line: &line)
        }
    }

    private func emit(_ notice: LifecycleNotice, unit: Unit, instance: InstanceInfo?, time: Timestamp, line: inout LogLine) {
        let wi = unit.key.workerIndex
        let payload: HistEvent.Payload?
        switch notice {
        case .restartScheduled(let delay, let attempt):
            payload = .restartScheduled(instance: unit.lastEnded, delay: delay, attempt: attempt, workerIndex: wi)
            line.restart(delay: delay, attempt: attempt, max: unit.spec.backoff.maxRestarts)
        case .gaveUp(let restarts):
            payload = .gaveUp(instance: unit.lastEnded, restarts: restarts, workerIndex: wi)
            line.gaveUp(restarts: restarts)
        case .stopRequested(let reason, let sig):
            payload = instance.map { .stopRequested(instance: $0, reason: reason, signal: sig) }
            line.stopping(reason: reason, signal: sig)
        case .killed(let after):
            payload = instance.map { .killed(instance: $0, after: after) }
            line.killed(after: after)
        case .spawnFailed(let errno, let step):
            payload = .spawnFailed(errno: errno, step: step, reason: Sys.errnoText(errno), workerIndex: wi)
            line.spawnFailed(errno: errno, step: step, command: unit.spec.command.first ?? "")
        case .limitBreach(let limit, let observed, let threshold):
            payload = .limitBreach(instance: instance, limit: limit, observed: observed, threshold: threshold, action: .stop)
            line.limit(limit, observed: observed, threshold: threshold)
        case .recycled(let reason):
            payload = instance.map { .recycled(instance: $0, reason: reason) }
            line.recycled()
        }
        if let payload { record(HistEvent(time: time, program: unit.key.program, payload: payload), unit: unit) }
    }

    /// Spawns the unit's process; returns the outcome as the next lifecycle event.
    func spawnNow(_ unit: Unit) -> LifecycleEvent {
        if let pending = unit.pendingSpec {
            unit.spec = pending
            unit.pendingSpec = nil
        }
        if !unit.output.matches(unit.spec) {
            // Log settings changed in a reload; a pipe of the old process keeps the old writer until it closes.
            unit.output = UnitOutput(logDir: supervisorSpec.logDir, baseName: unit.key.description, spec: unit.spec,
                                     timestamps: supervisorSpec.logTimestamps, group: supervisorSpec.groupID)
        }
        var env = Self.environment(base: baseEnvironment, spec: unit.spec)
        // Inherited by every descendant: how this histd (and the next one, after a crash) knows them.
        env[RunMarker.runVariable] = runMarker.text
        env[RunMarker.unitVariable] = unit.key.description
        if let pool = unit.pool, let index = unit.key.workerIndex {
            env["HISTD_POOL"] = pool
            env["HISTD_WORKER_INDEX"] = String(index)
            env["HISTD_WORKER_COUNT"] = String(desiredWorkers[pool] ?? 0)
        }
        let cgroups = resources.prepare(unit: unit.key, spec: unit.spec)
        switch ProcessLauncher.launch(argv: unit.spec.command, environment: env, cwd: unit.spec.cwd, cgroupProcs: cgroups,
                                      exec: unit.spec.exec) {
        case .failure(let failure):
            return .spawnFailed(errno: failure.errno, step: failure.step)
        case .success(let p):
            let info = InstanceInfo(id: makeInstanceID(), program: unit.key.program, workerIndex: unit.key.workerIndex,
                                    identity: ProcessIdentity(pid: p.pid, startTicks: p.startTicks), startedAt: .now())
            unit.process = LiveProcess(info: info, pidfd: p.pidfd, startedAt: MonotonicInstant.now().sinceOrigin)
            unit.operatorSignalUntil = nil
            unit.output.tail.reset()
            unit.output.markStart(info, unit: unit.key.description)
            unitByPID[p.pid] = unit.key
            rememberSession(p.pid, startTicks: p.startTicks)
            if p.pidfd >= 0 { watch(p.pidfd, .pidfd(unit.key)) }
            watch(p.stdoutFD, .pipe(PipeReader(fd: p.stdoutFD, output: unit.output, isStderr: false)))
            watch(p.stderrFD, .pipe(PipeReader(fd: p.stderrFD, output: unit.output, isStderr: true)))
            shared.instanceStarted(info)
            scheduleAgeRecycle(unit, instance: info.id)
            record(HistEvent(time: info.startedAt, program: unit.key.program, payload: .started(info)), unit: unit)
            logger.info("\(unit.key)[\(p.pid)]: started")
            return .spawned
        }
    }

    /// Hands a unit's fact to the sink, marked with the operator action that caused it (if any),
    /// and uses up the link once its last fact (the new start, or the end) is recorded.
    func record(_ event: HistEvent, unit: Unit) {
        var event = event
        if let link = unit.link {
            if let expiry = link.expiresAt, MonotonicInstant.now().sinceOrigin > expiry {
                unit.link = nil
            } else {
                switch (link.until, event.payload) {
                case (.started, .started):
                    event.operatorAction = link.action
                    unit.link = nil
                case (.ended, .started):
                    // A stop or signal never owns the next instance.
                    unit.link = nil
                case (.ended, .ended):
                    event.operatorAction = link.action
                    unit.link = nil
                default:
                    event.operatorAction = link.action
                }
            }
        }
        sink.record(event)
    }

    /// A program's environment: histd's own (or nothing with `clear_env`), then HOME/USER/LOGNAME of its
    /// `user`, then `env_file`, then `env` (each later source wins).
    static func environment(base: [String: String], spec: ProgramSpec) -> [String: String] {
        var env = spec.exec.clearEnv ? [:] : base
        if let id = spec.exec.identity, let user = id.user {
            env["USER"] = user
            env["LOGNAME"] = user
            if let home = id.home { env["HOME"] = home }
        }
        for (k, v) in spec.exec.envFile { env[k] = v }
        for (k, v) in spec.env { env[k] = v }
        return env
    }

    /// Signals the unit's process group, and its leader through the pidfd (which can never reach a
    /// reused pid). The group id is the leader's pid: the child called setsid.
    func signalGroup(_ unit: Unit, _ sig: Int32) {
        guard let p = unit.process else { return }
        if p.pidfd >= 0 { _ = histd_pidfd_send_signal(p.pidfd, sig) }
        // kill_mode = "process": the main process only; its descendants are left alone.
        if unit.spec.killMode == .process {
            if p.pidfd < 0 { _ = kill(p.pid, sig) }
            return
        }
        // The leader is not reaped until we reap it, so its pid (= pgid) cannot have been reused.
        _ = killpg(p.pid, sig)
    }

    func removeUnit(_ unit: Unit) {
        units[unit.key] = nil
        timers.cancel(unit.restartTimer)
        timers.cancel(unit.killTimer)
        timers.cancel(unit.ageTimer)
        resources.cleanup(unit: unit.key, spec: unit.spec)
        shared.publish(unit.status, removed: true)
    }
}
