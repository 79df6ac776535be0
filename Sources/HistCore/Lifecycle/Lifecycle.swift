import HistModel

/// The lifecycle of one unit as a pure function: `(state, event, policy, counters) -> (state, counters, actions)`.
/// No clocks, no I/O. The runtime executes the actions in order and feeds their outcomes back as events.
///
/// Rules:
/// - A stop histd asked for (operator, shutdown, scale-down, recycle) is never restarted; it ends `stopped`.
/// - An exit by itself is classified `clean` (exit 0) or `crash` (non-zero, or a signal histd did not send).
///   `restart` decides: `always` restarts both, `on-failure` only crashes, `never` neither (state `exited`).
/// - A run with uptime >= `reset_after` resets the restart count before deciding.
/// - A failed run (crash, limit kill, spawn failure) when `restarts` already equals `max_restarts`
///   (> 0) gives up: state `failed`, notice `gaveUp`. Otherwise the restart number `n = restarts + 1`
///   is scheduled after `backoff.delay(attempt: n - 1)`.
/// - A clean exit under `always` is restarted with the same backoff (so a program that exits at once
///   cannot spin), but never gives up.
/// - A limit kill (`limitBreached`) stops the unit, is classified `limit`, and restarts under backoff;
///   so does a process the kernel killed at a cgroup limit (`exitedAtLimit`).
/// - Pool workers (`recycleCleanExit`): an exit 0 is replaced at once and does not count.
/// - An end an operator's signal caused (`exitedOnOperatorSignal`) is not the program's failure: it is
///   classified `clean` (exit 0), `killed` (SIGKILL) or `stopped`, leaves the restart count as it was,
///   and the unit starts again at once (no backoff delay) when its policy would restart that exit
///   (`always`; `on-failure` unless it exited 0; a pool worker's exit 0 is recycled as usual).
public enum Lifecycle {
    public static func handle(state: ProgramState, event: LifecycleEvent, policy: UnitPolicy,
                              counters: LifecycleCounters) -> Transition {
        var c = counters
        switch (state, event) {

        // MARK: starting
        case (.stopped, .startRequested), (.exited, .startRequested), (.failed, .startRequested),
             (.stopped, .restartRequested), (.exited, .restartRequested), (.failed, .restartRequested):
            return Transition(state: .starting, counters: LifecycleCounters(), actions: [.spawn])
        case (.backoff, .startRequested), (.backoff, .restartRequested):
            return Transition(state: .starting, counters: c, actions: [.cancelRestartTimer, .spawn])
        case (.stopping, .startRequested), (.stopping, .restartRequested):
            c.startAfterStop = true
            return Transition(state: .stopping, counters: c)

        case (.starting, .spawned):
            if let reason = c.stopReason {
                // A stop arrived while the spawn was in flight: honour it now.
                return beginStop(reason: reason, policy: policy, counters: c)
            }
            return Transition(state: .running, counters: c)
        case (.starting, .spawnFailed(let errno, let step)):
            var actions: [LifecycleAction] = [.emit(.spawnFailed(errno: errno, step: step))]
            if c.stopReason != nil || !policy.restartsAllowed {
                c.stopReason = nil
                return Transition(state: .stopped, counters: c, actions: actions)
            }
            if policy.restart == .never {
                return Transition(state: .failed, counters: c, actions: actions)
            }
            return afterFailure(counters: c, policy: policy, actions: &actions)

        // MARK: exits
        case (.running, .exited(let status, let uptime)), (.starting, .exited(let status, let uptime)):
            if uptime >= policy.backoff.resetAfter { c.restarts = 0 }
            let classification: ExitClassification = status.isSuccess ? .clean : .crash
            var actions: [LifecycleAction] = [.recordEnd(classification)]
            if c.stopReason != nil {
                // A stop was pending on a spawn that exited by itself: it is simply stopped.
                c.stopReason = nil
                return Transition(state: .stopped, counters: c, actions: actions)
            }
            guard policy.restartsAllowed else { return Transition(state: .exited, counters: c, actions: actions) }
            if classification == .clean {
                if policy.recycleCleanExit {
                    c.restarts = 0
                    actions += [.emit(.recycled(reason: .exit0)), .spawn]
                    return Transition(state: .starting, counters: c, actions: actions)
                }
                guard policy.restart == .always else { return Transition(state: .exited, counters: c, actions: actions) }
                return scheduleRestart(counters: c, policy: policy, actions: &actions)
            }
            guard policy.restart != .never else { return Transition(state: .exited, counters: c, actions: actions) }
            return afterFailure(counters: c, policy: policy, actions: &actions)

        case (.running, .exitedAtLimit(_, let uptime, _)), (.starting, .exitedAtLimit(_, let uptime, _)):
            if uptime >= policy.backoff.resetAfter { c.restarts = 0 }
            var actions: [LifecycleAction] = [.recordEnd(.limit)]
            if c.stopReason != nil {
                c.stopReason = nil
                return Transition(state: .stopped, counters: c, actions: actions)
            }
            guard policy.restartsAllowed, policy.restart != .never else {
                return Transition(state: .exited, counters: c, actions: actions)
            }
            return afterFailure(counters: c, policy: policy, actions: &actions)

        case (.stopping, .exitedAtLimit(let status, let uptime, _)), (.stopping, .exitedOnOperatorSignal(let status, let uptime)):
            // histd was stopping it anyway: the stop's own classification wins.
            return handle(state: state, event: .exited(status: status, uptime: uptime), policy: policy, counters: c)

        case (.running, .exitedOnOperatorSignal(let status, _)), (.starting, .exitedOnOperatorSignal(let status, _)):
            // The uptime does not matter: the count is neither raised nor reset by the operator's signal.
            let classification: ExitClassification = status.isSuccess ? .clean : (status.signal == 9 ? .killed : .stopped)  // 9: SIGKILL
            var actions: [LifecycleAction] = [.recordEnd(classification)]
            if c.stopReason != nil {
                c.stopReason = nil
                return Transition(state: .stopped, counters: c, actions: actions)
            }
            guard policy.restartsAllowed else { return Transition(state: .exited, counters: c, actions: actions) }
            if status.isSuccess && policy.recycleCleanExit {
                actions += [.emit(.recycled(reason: .exit0)), .spawn]
                return Transition(state: .starting, counters: c, actions: actions)
            }
            let wanted = policy.restart == .always || (policy.restart == .onFailure && !status.isSuccess)
            guard wanted else { return Transition(state: .exited, counters: c, actions: actions) }
            actions.append(.spawn)
            return Transition(state: .starting, counters: c, actions: actions)

        case (.stopping, .exited(_, let uptime)):
            let reason = c.stopReason ?? .operator
            let classification: ExitClassification = reason == .limit ? .limit : (c.killSent ? .killed : .stopped)
            var actions: [LifecycleAction] = [.cancelKillTimer, .recordEnd(classification), .releaseResources]
            let startAgain = c.startAfterStop
            c.stopReason = nil
            c.killSent = false
            c.startAfterStop = false
            if reason == .limit {
                if uptime >= policy.backoff.resetAfter { c.restarts = 0 }
                guard policy.restartsAllowed, policy.restart != .never else {
                    return Transition(state: .exited, counters: c, actions: actions)
                }
                return afterFailure(counters: c, policy: policy, actions: &actions)
            }
            if startAgain && policy.restartsAllowed {
                c.restarts = 0
                actions.append(.spawn)
                return Transition(state: .starting, counters: c, actions: actions)
            }
            return Transition(state: .stopped, counters: c, actions: actions)

        // MARK: timers
        case (.backoff, .backoffElapsed):
            return Transition(state: .starting, counters: c, actions: [.spawn])
        case (.stopping, .stopTimeoutElapsed):
            guard !c.killSent else { return Transition(state: state, counters: c) }
            c.killSent = true
            return Transition(state: .stopping, counters: c,
                              actions: [.killGroup, .emit(.killed(after: policy.stopTimeout))])

        // MARK: stop requests
        case (.running, .stopRequested(let reason)):
            return beginStop(reason: reason, policy: policy, counters: c)
        case (.starting, .stopRequested(let reason)):
            c.stopReason = reason
            return Transition(state: .starting, counters: c)
        case (.backoff, .stopRequested):
            return Transition(state: .stopped, counters: c, actions: [.cancelRestartTimer])
        case (.stopping, .stopRequested(let reason)):
            // Already stopping: keep the first reason, but a later stop cancels a pending restart.
            if reason != .limit { c.startAfterStop = false }
            return Transition(state: .stopping, counters: c)
        case (.running, .restartRequested):
            var t = beginStop(reason: .operator, policy: policy, counters: c)
            t.counters.startAfterStop = true
            return t
        case (.running, .limitBreached(let limit, let observed, let threshold)):
            var t = beginStop(reason: .limit, policy: policy, counters: c)
            t.actions.insert(.emit(.limitBreach(limit: limit, observed: observed, threshold: threshold)), at: 0)
            return t

        // MARK: reset
        case (.failed, .reset):
            return Transition(state: .stopped, counters: LifecycleCounters())
        case (.starting, .reset), (.running, .reset), (.backoff, .reset), (.stopping, .reset), (.stopped, .reset),
             (.exited, .reset):
            c.restarts = 0
            return Transition(state: state, counters: c)

        // MARK: nothing to do
        // Every remaining cell, named rather than left to a `default:`, so that a new state or a new event
        // does not compile until each cell has decided what it means.
        case (.starting, .startRequested), (.starting, .restartRequested), (.running, .startRequested):
            // Already on its way up: a duplicate request.
            return Transition(state: state, counters: c)
        case (.starting, .backoffElapsed), (.running, .backoffElapsed), (.stopping, .backoffElapsed),
             (.stopped, .backoffElapsed), (.exited, .backoffElapsed), (.failed, .backoffElapsed),
             (.starting, .stopTimeoutElapsed), (.running, .stopTimeoutElapsed), (.backoff, .stopTimeoutElapsed),
             (.stopped, .stopTimeoutElapsed), (.exited, .stopTimeoutElapsed), (.failed, .stopTimeoutElapsed):
            // A stale timer (its state was left before it fired).
            return Transition(state: state, counters: c)
        case (.running, .spawned), (.running, .spawnFailed), (.stopping, .spawned), (.stopping, .spawnFailed),
             (.backoff, .spawned), (.backoff, .spawnFailed), (.backoff, .exited), (.backoff, .exitedAtLimit),
             (.backoff, .exitedOnOperatorSignal),
             (.stopped, .spawned), (.stopped, .spawnFailed), (.stopped, .exited), (.stopped, .exitedAtLimit),
             (.stopped, .exitedOnOperatorSignal),
             (.exited, .spawned), (.exited, .spawnFailed), (.exited, .exited), (.exited, .exitedAtLimit),
             (.exited, .exitedOnOperatorSignal),
             (.failed, .spawned), (.failed, .spawnFailed), (.failed, .exited), (.failed, .exitedAtLimit),
             (.failed, .exitedOnOperatorSignal):
            // About a spawn or a process that is not the unit's current one: only `starting` spawns, and
            // only `starting`, `running` and `stopping` have a process.
            return Transition(state: state, counters: c)
        case (.stopped, .stopRequested), (.exited, .stopRequested), (.failed, .stopRequested):
            // Nothing runs: nothing to stop.
            return Transition(state: state, counters: c)
        case (.starting, .limitBreached), (.backoff, .limitBreached), (.stopping, .limitBreached),
             (.stopped, .limitBreached), (.exited, .limitBreached), (.failed, .limitBreached):
            // A sample of a process that is no longer running (or is being stopped already).
            return Transition(state: state, counters: c)
        }
    }

    private static func beginStop(reason: StopReason, policy: UnitPolicy, counters: LifecycleCounters) -> Transition {
        var c = counters
        c.stopReason = reason
        c.killSent = false
        return Transition(state: .stopping, counters: c, actions: [
            .emit(.stopRequested(reason: reason, signal: policy.stopSignal)),
            .signalGroup(policy.stopSignal),
            .armKillTimer(policy.stopTimeout),
        ])
    }

    /// A failed run: give up or schedule the next restart.
    private static func afterFailure(counters: LifecycleCounters, policy: UnitPolicy,
                                     actions: inout [LifecycleAction]) -> Transition {
        let max = policy.backoff.maxRestarts
        if max > 0 && counters.restarts >= max {
            actions.append(.emit(.gaveUp(restarts: counters.restarts)))
            return Transition(state: .failed, counters: counters, actions: actions)
        }
        return scheduleRestart(counters: counters, policy: policy, actions: &actions)
    }

    private static func scheduleRestart(counters: LifecycleCounters, policy: UnitPolicy,
                                        actions: inout [LifecycleAction]) -> Transition {
        var c = counters
        let delay = policy.backoff.delay(attempt: c.restarts)
        c.restarts += 1
        actions += [.emit(.restartScheduled(delay: delay, attempt: c.restarts)), .scheduleRestart(delay: delay)]
        return Transition(state: .backoff, counters: c, actions: actions)
    }
}
