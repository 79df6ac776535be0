import HistModel
import Testing
@testable import HistCore

/// The state machine as a table: (state, event, counters) -> (state, actions), no processes.
@Suite struct LifecycleTableTests {
    static let backoff = BackoffPolicy(restartDelay: .seconds(1), backoffFactor: 2, maxBackoff: .seconds(60),
                                       maxRestarts: 3, resetAfter: .seconds(60))
    static func policy(_ restart: RestartPolicy = .onFailure, recycle: Bool = false, allowed: Bool = true) -> UnitPolicy {
        UnitPolicy(restart: restart, backoff: backoff, stopSignal: SIGTERM_, stopTimeout: .seconds(10),
                   recycleCleanExit: recycle, restartsAllowed: allowed)
    }
    static let SIGTERM_: Int32 = 15

    struct Row: CustomStringConvertible, Sendable {
        var name: String
        var state: ProgramState
        var event: LifecycleEvent
        var policy: UnitPolicy = LifecycleTableTests.policy()
        var counters = LifecycleCounters()
        var expectState: ProgramState
        var expectActions: [LifecycleAction]
        var expectRestarts: Int? = nil
        var description: String { name }
    }

    static let crash3 = LifecycleEvent.exited(status: .exited(code: 3), uptime: .seconds(1))
    static let clean = LifecycleEvent.exited(status: .exited(code: 0), uptime: .seconds(1))
    static let segv = LifecycleEvent.exited(status: .signaled(signal: 11, coreDumped: false), uptime: .seconds(1))
    static let opHUP = LifecycleEvent.exitedOnOperatorSignal(status: .signaled(signal: 1, coreDumped: false), uptime: .seconds(1))
    static let stopActions: [LifecycleAction] = [.emit(.stopRequested(reason: .operator, signal: 15)), .signalGroup(15), .armKillTimer(.seconds(10))]

    static let rows: [Row] = [
        // Starting.
        Row(name: "stopped+start spawns", state: .stopped, event: .startRequested, expectState: .starting, expectActions: [.spawn]),
        Row(name: "failed+start spawns with fresh counters", state: .failed, event: .startRequested,
            counters: LifecycleCounters(restarts: 3), expectState: .starting, expectActions: [.spawn], expectRestarts: 0),
        Row(name: "backoff+start spawns now", state: .backoff, event: .startRequested, counters: LifecycleCounters(restarts: 2),
            expectState: .starting, expectActions: [.cancelRestartTimer, .spawn], expectRestarts: 2),
        Row(name: "running+start is a no-op", state: .running, event: .startRequested, expectState: .running, expectActions: []),
        Row(name: "starting+spawned runs", state: .starting, event: .spawned, expectState: .running, expectActions: []),
        // Crashes under on-failure.
        Row(name: "crash schedules restart 1 after restart_delay", state: .running, event: crash3,
            expectState: .backoff, expectActions: [.recordEnd(.crash), .emit(.restartScheduled(delay: .seconds(1), attempt: 1)),
                                                   .scheduleRestart(delay: .seconds(1))], expectRestarts: 1),
        Row(name: "third crash doubles twice", state: .running, event: segv, counters: LifecycleCounters(restarts: 2),
            expectState: .backoff, expectActions: [.recordEnd(.crash), .emit(.restartScheduled(delay: .seconds(4), attempt: 3)),
                                                   .scheduleRestart(delay: .seconds(4))], expectRestarts: 3),
        Row(name: "crash at max_restarts gives up", state: .running, event: crash3, counters: LifecycleCounters(restarts: 3),
            expectState: .failed, expectActions: [.recordEnd(.crash), .emit(.gaveUp(restarts: 3))]),
        Row(name: "long run resets the count before deciding", state: .running,
            event: .exited(status: .exited(code: 3), uptime: .seconds(61)), counters: LifecycleCounters(restarts: 3),
            expectState: .backoff, expectActions: [.recordEnd(.crash), .emit(.restartScheduled(delay: .seconds(1), attempt: 1)),
                                                   .scheduleRestart(delay: .seconds(1))], expectRestarts: 1),
        Row(name: "clean exit under on-failure stays exited", state: .running, event: clean,
            expectState: .exited, expectActions: [.recordEnd(.clean)]),
        // Policies.
        Row(name: "clean exit under always restarts (never gives up)", state: .running, event: clean, policy: policy(.always),
            counters: LifecycleCounters(restarts: 3), expectState: .backoff,
            expectActions: [.recordEnd(.clean), .emit(.restartScheduled(delay: .seconds(8), attempt: 4)), .scheduleRestart(delay: .seconds(8))]),
        Row(name: "crash under never stays exited", state: .running, event: crash3, policy: policy(.never),
            expectState: .exited, expectActions: [.recordEnd(.crash)]),
        Row(name: "signal under always restarts", state: .running, event: segv, policy: policy(.always),
            expectState: .backoff, expectActions: [.recordEnd(.crash), .emit(.restartScheduled(delay: .seconds(1), attempt: 1)),
                                                   .scheduleRestart(delay: .seconds(1))]),
        Row(name: "pool worker exit 0 is recycled at once", state: .running, event: clean, policy: policy(.onFailure, recycle: true),
            counters: LifecycleCounters(restarts: 2), expectState: .starting,
            expectActions: [.recordEnd(.clean), .emit(.recycled(reason: .exit0)), .spawn], expectRestarts: 0),
        Row(name: "no restart during shutdown", state: .running, event: crash3, policy: policy(.always, allowed: false),
            expectState: .exited, expectActions: [.recordEnd(.crash)]),
        // Spawn failures.
        Row(name: "spawn failure backs off", state: .starting, event: .spawnFailed(errno: 2, step: "execve"),
            expectState: .backoff, expectActions: [.emit(.spawnFailed(errno: 2, step: "execve")),
                                                   .emit(.restartScheduled(delay: .seconds(1), attempt: 1)), .scheduleRestart(delay: .seconds(1))]),
        Row(name: "spawn failure at max gives up", state: .starting, event: .spawnFailed(errno: 2, step: "execve"),
            counters: LifecycleCounters(restarts: 3), expectState: .failed,
            expectActions: [.emit(.spawnFailed(errno: 2, step: "execve")), .emit(.gaveUp(restarts: 3))]),
        Row(name: "spawn failure under never fails", state: .starting, event: .spawnFailed(errno: 2, step: "execve"),
            policy: policy(.never), expectState: .failed, expectActions: [.emit(.spawnFailed(errno: 2, step: "execve"))]),
        // Stopping.
        Row(name: "stop while running signals the group", state: .running, event: .stopRequested(.operator),
            expectState: .stopping, expectActions: stopActions),
        Row(name: "stop in backoff cancels the timer", state: .backoff, event: .stopRequested(.shutdown),
            expectState: .stopped, expectActions: [.cancelRestartTimer]),
        Row(name: "stop when stopped is a no-op", state: .stopped, event: .stopRequested(.operator), expectState: .stopped, expectActions: []),
        Row(name: "asked-for exit is stopped, never restarted", state: .stopping, event: crash3, policy: policy(.always),
            counters: LifecycleCounters(stopReason: .operator), expectState: .stopped,
            expectActions: [.cancelKillTimer, .recordEnd(.stopped), .releaseResources]),
        Row(name: "stop timeout sends SIGKILL", state: .stopping, event: .stopTimeoutElapsed,
            counters: LifecycleCounters(stopReason: .shutdown), expectState: .stopping,
            expectActions: [.killGroup, .emit(.killed(after: .seconds(10)))]),
        Row(name: "second stop timeout does nothing", state: .stopping, event: .stopTimeoutElapsed,
            counters: LifecycleCounters(stopReason: .shutdown, killSent: true), expectState: .stopping, expectActions: []),
        Row(name: "exit after SIGKILL is classified killed", state: .stopping,
            event: .exited(status: .signaled(signal: 9, coreDumped: false), uptime: .seconds(12)),
            counters: LifecycleCounters(stopReason: .shutdown, killSent: true), expectState: .stopped,
            expectActions: [.cancelKillTimer, .recordEnd(.killed), .releaseResources]),
        Row(name: "operator restart stops then starts", state: .stopping, event: clean,
            counters: LifecycleCounters(restarts: 2, stopReason: .operator, startAfterStop: true), expectState: .starting,
            expectActions: [.cancelKillTimer, .recordEnd(.stopped), .releaseResources, .spawn], expectRestarts: 0),
        // Limits.
        Row(name: "limit breach records and stops", state: .running,
            event: .limitBreached(limit: .maxMemory, observed: 200, threshold: 100), expectState: .stopping,
            expectActions: [.emit(.limitBreach(limit: .maxMemory, observed: 200, threshold: 100)),
                            .emit(.stopRequested(reason: .limit, signal: 15)), .signalGroup(15), .armKillTimer(.seconds(10))]),
        Row(name: "limit kill restarts under backoff", state: .stopping, event: .exited(status: .signaled(signal: 15, coreDumped: false), uptime: .seconds(1)),
            counters: LifecycleCounters(restarts: 1, stopReason: .limit), expectState: .backoff,
            expectActions: [.cancelKillTimer, .recordEnd(.limit), .releaseResources,
                            .emit(.restartScheduled(delay: .seconds(2), attempt: 2)), .scheduleRestart(delay: .seconds(2))]),
        Row(name: "kernel OOM kill is a limit end, restarted under backoff", state: .running,
            event: .exitedAtLimit(status: .signaled(signal: 9, coreDumped: false), uptime: .seconds(1), limit: .cgroupMemory),
            counters: LifecycleCounters(restarts: 1), expectState: .backoff,
            expectActions: [.recordEnd(.limit), .emit(.restartScheduled(delay: .seconds(2), attempt: 2)),
                            .scheduleRestart(delay: .seconds(2))]),
        Row(name: "kernel OOM kill counts toward give-up", state: .running,
            event: .exitedAtLimit(status: .signaled(signal: 9, coreDumped: false), uptime: .seconds(1), limit: .cgroupMemory),
            counters: LifecycleCounters(restarts: 3), expectState: .failed,
            expectActions: [.recordEnd(.limit), .emit(.gaveUp(restarts: 3))]),
        Row(name: "limit kill counts toward give-up", state: .stopping, event: crash3,
            counters: LifecycleCounters(restarts: 3, stopReason: .limit), expectState: .failed,
            expectActions: [.cancelKillTimer, .recordEnd(.limit), .releaseResources, .emit(.gaveUp(restarts: 3))]),
        Row(name: "limit breach when not running is stale", state: .backoff,
            event: .limitBreached(limit: .maxMemory, observed: 1, threshold: 0), expectState: .backoff, expectActions: []),
        // An end an operator's signal caused (histctl signal): never a crash, never counted, no backoff.
        Row(name: "operator HUP death is stopped, started again at once, count kept", state: .running, event: opHUP,
            counters: LifecycleCounters(restarts: 2), expectState: .starting, expectActions: [.recordEnd(.stopped), .spawn], expectRestarts: 2),
        Row(name: "operator signal at max_restarts does not give up", state: .running, event: opHUP,
            counters: LifecycleCounters(restarts: 3), expectState: .starting, expectActions: [.recordEnd(.stopped), .spawn], expectRestarts: 3),
        Row(name: "operator KILL is classified killed", state: .running,
            event: .exitedOnOperatorSignal(status: .signaled(signal: 9, coreDumped: false), uptime: .seconds(1)),
            expectState: .starting, expectActions: [.recordEnd(.killed), .spawn], expectRestarts: 0),
        Row(name: "a long run before the operator's signal does not reset the count", state: .running,
            event: .exitedOnOperatorSignal(status: .signaled(signal: 1, coreDumped: false), uptime: .seconds(600)),
            counters: LifecycleCounters(restarts: 2), expectState: .starting, expectActions: [.recordEnd(.stopped), .spawn], expectRestarts: 2),
        Row(name: "exit 0 on the operator's signal under on-failure stays exited", state: .running,
            event: .exitedOnOperatorSignal(status: .exited(code: 0), uptime: .seconds(1)),
            expectState: .exited, expectActions: [.recordEnd(.clean)]),
        Row(name: "exit 0 on the operator's signal under always starts at once", state: .running,
            event: .exitedOnOperatorSignal(status: .exited(code: 0), uptime: .seconds(1)), policy: policy(.always),
            counters: LifecycleCounters(restarts: 1), expectState: .starting, expectActions: [.recordEnd(.clean), .spawn], expectRestarts: 1),
        Row(name: "operator signal under never stays exited", state: .running, event: opHUP, policy: policy(.never),
            expectState: .exited, expectActions: [.recordEnd(.stopped)]),
        Row(name: "operator signal to a pool worker replaces it at once", state: .running, event: opHUP,
            policy: policy(.onFailure, recycle: true), expectState: .starting, expectActions: [.recordEnd(.stopped), .spawn]),
        Row(name: "pool worker exit 0 on the operator's signal is recycled", state: .running,
            event: .exitedOnOperatorSignal(status: .exited(code: 0), uptime: .seconds(1)), policy: policy(.onFailure, recycle: true),
            expectState: .starting, expectActions: [.recordEnd(.clean), .emit(.recycled(reason: .exit0)), .spawn]),
        Row(name: "no start after the operator's signal during shutdown", state: .running, event: opHUP, policy: policy(.always, allowed: false),
            expectState: .exited, expectActions: [.recordEnd(.stopped)]),
        Row(name: "a stop pending on the spawn wins over the operator's signal", state: .starting, event: opHUP,
            counters: LifecycleCounters(stopReason: .operator), expectState: .stopped, expectActions: [.recordEnd(.stopped)]),
        Row(name: "while stopping, the stop's classification wins", state: .stopping, event: opHUP,
            counters: LifecycleCounters(stopReason: .shutdown), expectState: .stopped,
            expectActions: [.cancelKillTimer, .recordEnd(.stopped), .releaseResources]),
        Row(name: "operator signal end without a process is stale", state: .backoff, event: opHUP,
            expectState: .backoff, expectActions: []),
        // Timers and reset.
        Row(name: "backoff timer spawns", state: .backoff, event: .backoffElapsed, expectState: .starting, expectActions: [.spawn]),
        Row(name: "stale backoff timer is ignored", state: .running, event: .backoffElapsed, expectState: .running, expectActions: []),
        Row(name: "reset turns failed into stopped", state: .failed, event: .reset, counters: LifecycleCounters(restarts: 3),
            expectState: .stopped, expectActions: [], expectRestarts: 0),
    ]

    @Test(arguments: rows)
    func transition(_ row: Row) {
        let t = Lifecycle.handle(state: row.state, event: row.event, policy: row.policy, counters: row.counters)
        #expect(t.state == row.expectState)
        #expect(t.actions == row.expectActions)
        if let r = row.expectRestarts { #expect(t.counters.restarts == r) }
    }

    /// Every state × every event is defined (no trap), and nothing spawns from `stopping` or `running`.
    @Test func everyCellIsTotal() {
        let events: [LifecycleEvent] = [.startRequested, .restartRequested, .spawned, .spawnFailed(errno: 2, step: "execve"),
                                        Self.crash3, Self.clean, Self.opHUP, .backoffElapsed, .stopTimeoutElapsed,
                                        .stopRequested(.shutdown), .limitBreached(limit: .maxMemory, observed: 1, threshold: 0), .reset]
        for state in ProgramState.allCases {
            for event in events {
                let t = Lifecycle.handle(state: state, event: event, policy: Self.policy(), counters: LifecycleCounters())
                if state == .running || state == .stopping, event != Self.crash3, event != Self.clean, event != Self.opHUP {
                    #expect(!t.actions.contains(.spawn), "\(state) + \(event) must not spawn a second process")
                }
            }
        }
    }

    /// A run of crashes walks the backoff formula and gives up after max_restarts.
    @Test func crashLoopFollowsTheFormula() {
        let p = UnitPolicy(restart: .onFailure, backoff: BackoffPolicy(restartDelay: .milliseconds(200), backoffFactor: 2,
                                                                       maxBackoff: .milliseconds(700), maxRestarts: 4, resetAfter: .seconds(60)))
        var state = ProgramState.running
        var counters = LifecycleCounters()
        var delays: [Duration] = []
        while true {
            let t = Lifecycle.handle(state: state, event: Self.crash3, policy: p, counters: counters)
            state = t.state
            counters = t.counters
            guard state == .backoff, case .scheduleRestart(let d)? = t.actions.last else { break }
            delays.append(d)
            state = .running
        }
        #expect(delays == [.milliseconds(200), .milliseconds(400), .milliseconds(700), .milliseconds(700)])
        #expect(state == .failed)
    }
}
