#if canImport(Glibc)
import Glibc
#endif
import HistModel
import HistProc
import Testing
@testable import HistCore

/// Every command gets an answer: a table of (command, expected outcome) against a real engine with
/// real processes, then the waits (restart returns with the new pid), then shutdown.
@Suite("Command outcomes")
struct CommandOutcomeTests {
    /// Polls the reply from the test's side (the engine completes it; nobody blocks).
    func outcome(_ reply: CommandReply, _ timeout: Duration = .seconds(20)) async -> CommandOutcome? {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let o = reply.outcome { return o }
            try? await Task.sleep(for: .milliseconds(5))
        }
        return reply.outcome
    }

    enum Expect {
        case done, noSuch(String?), already, refused, failed, shuttingDown
        func matches(_ o: CommandOutcome?) -> Bool {
            switch (self, o) {
            case (.done, .done?), (.already, .already?), (.refused, .refused?), (.failed, .failed?),
                 (.shuttingDown, .shuttingDown?): true
            case (.noSuch(let s), .noSuchUnit(_, let t)?): s == t
            default: false
            }
        }
    }

    @Test("each command without waiting: done, no such unit (did you mean), already, refused, failed")
    func table() async throws {
        let dir = TempDir()
        defer { dir.remove() }
        let sleeper = dir.script("sleeper", "exec sleep 300")
        let pool = PoolSpec(worker: program("jobs", sleeper), minWorkers: 1, maxWorkers: 3)
        try await withSupervisor([program("web", sleeper), program("off", sleeper, autostart: false)], pools: [pool], dir: dir) { sup, _ in
            let up = await eventually { sup.status().filter { $0.state == .running }.count == 2 }
            #expect(up)
            let table: [(SupervisorCommand, Expect)] = [
                (.start(program: "web"), .already),
                (.stop(program: "off"), .already),
                (.start(program: "nope"), .noSuch(nil)),
                (.restart(program: "wbe"), .noSuch("web")),
                (.stop(program: "jobs.7"), .noSuch("jobs.0")),
                (.scale(pool: "jobs", count: 9), .refused),
                (.scale(pool: "jobs", count: 0), .refused),
                (.scale(pool: "jobs", count: 1), .already),
                (.scale(pool: "web", count: 2), .noSuch(nil)),
                (.signal(program: "off", signal: SIGHUP), .failed),
                (.signal(program: "web", signal: SIGCONT), .done),
                (.start(program: "jobs.0"), .already),
            ]
            for (command, expected) in table {
                let got = await outcome(sup.post(command))
                #expect(expected.matches(got), "\(command): expected \(expected), got \(String(describing: got))")
            }
        }
    }

    @Test("waiting: restart answers once the new instance runs, with old and new pid; stop once the process is gone")
    func waits() async throws {
        let dir = TempDir()
        defer { dir.remove() }
        let sleeper = dir.script("sleeper", "exec sleep 300")
        let pool = PoolSpec(worker: program("jobs", sleeper), minWorkers: 1, maxWorkers: 3)
        try await withSupervisor([program("web", sleeper)], pools: [pool], dir: dir) { sup, sink in
            #expect(await eventually { sup.status().filter { $0.state == .running }.count == 2 })
            let wait = CommandOptions(wait: true, operatorAction: 7)
            guard case .done(let changes)? = await outcome(sup.post(.restart(program: "web"), options: wait)) else {
                Issue.record("restart did not answer done"); return
            }
            #expect(changes.count == 1)
            let change = try #require(changes.first)
            #expect(change.unit == UnitKey(program: "web"))
            let old = try #require(change.oldPID), new = try #require(change.newPID)
            // A process is (pid, start time): the old pid may already belong to another process.
            let starts = sink.events("web").compactMap(\.started)
            let oldTicks = try #require(starts.first { $0.identity.pid == old }?.identity.startTicks)
            let newTicks = try #require(starts.last { $0.identity.pid == new }?.identity.startTicks)
            // Judged by (pid, start ticks): the new process may be given the old one's number again
            // (PidReuseDrainTests, beside this one, rewinds the kernel's pid counter).
            #expect(ProcessIdentity(pid: old, startTicks: oldTicks) != ProcessIdentity(pid: new, startTicks: newTicks))
            #expect(!isAlive(old, ticks: oldTicks))
            // Failed once in CI (2026-12-02 07:30, cause not found): say what /proc and the record knew.
            #expect(isAlive(new, ticks: newTicks), """
                new [\(new)] is not running: /proc says \(ProcFS().stat(new).map { "state \($0.state), start ticks \($0.startTicks) (ours \(newTicks))" } ?? "nothing (errno \(errno))"); \
                web's events: \(sink.events("web").map { "\($0.kind)\($0.ended.map { " \($0.instance.identity.pid) \($0.status)" } ?? "")" })
                """)
            #expect(change.state == .running)
            // The facts the restart caused carry the action: stop_requested and end of the old, start of the new.
            let linked = sink.events("web").filter { $0.operatorAction == 7 }
            #expect(linked.contains { $0.isStopRequested })
            #expect(linked.contains { $0.ended?.instance.identity.pid == old })
            #expect(linked.contains { $0.started?.identity.pid == new })

            let workerStartsBefore = sink.events("jobs").compactMap(\.started)
            guard case .done(let w)? = await outcome(sup.post(.restart(program: "jobs.0"), options: wait)) else {
                Issue.record("worker restart did not answer done"); return
            }
            #expect(w.map(\.unit) == [UnitKey(program: "jobs", workerIndex: 0)] && w[0].newPID != nil)
            // A new instance: a start recorded after the command, with the answered pid (which may be
            // the old number again: see above).
            let workerStarts = sink.events("jobs").compactMap(\.started)
            let oldWorker = workerStartsBefore.last { $0.identity.pid == w[0].oldPID }?.identity
            #expect(workerStarts.count > workerStartsBefore.count)
            #expect(workerStarts.last?.identity.pid == w[0].newPID && workerStarts.last?.identity != oldWorker)

            guard case .done(let stopped)? = await outcome(sup.post(.stop(program: "web"), options: wait)) else {
                Issue.record("stop did not answer done"); return
            }
            #expect(stopped.first?.oldPID == new && stopped.first?.newPID == nil && !isAlive(new, ticks: newTicks))
            #expect(sup.status().first { $0.unit.program == "web" }?.state == .stopped)

            guard case .done(let scaled)? = await outcome(sup.post(.scale(pool: "jobs", count: 3), options: wait)) else {
                Issue.record("scale did not answer done"); return
            }
            #expect(scaled.count == 3 && scaled.allSatisfy { $0.newPID != nil })
            #expect(sup.liveWorkers(pool: "jobs").count == 3)
            // The engine recorded the resize (and only once), marked with the action.
            let resizes = sink.events("jobs").filter { if case .scaled = $0.payload { true } else { false } }
            #expect(resizes.count == 1 && resizes.first?.operatorAction == 7)
            #expect(resizes.first?.kind == .scaleUp)
        }
    }

    @Test("commands posted during and after shutdown are answered shutting down, and change nothing")
    func duringShutdown() async throws {
        let dir = TempDir()
        defer { dir.remove() }
        // Ignores TERM so that shutdown lasts until stop_timeout: there is a window to post into.
        let stubborn = dir.script("stubborn", "trap '' TERM; while :; do sleep 0.05; done")
        // stop_timeout 60 s: the waiting restart cannot finish before the shutdown (whose own 3 s deadline kills it).
        let pool = PoolSpec(worker: program("jobs", stubborn, stopTimeout: .seconds(60)), minWorkers: 1, maxWorkers: 3)
        var captured: Supervisor?
        try await withSupervisor([program("web", stubborn, stopTimeout: .seconds(60))], pools: [pool], dir: dir,
                                 shutdownTimeout: .seconds(3)) { sup, sink in
            captured = sup
            #expect(await eventually { sup.status().filter { $0.state == .running }.count == 2 })
            let waiting = sup.post(.restart(program: "web"), options: CommandOptions(wait: true))
            _ = await eventually { sup.status().first { $0.unit.program == "web" }?.state == .stopping }
            #expect(sup.post(.shutdown).outcome != .shuttingDown)
            #expect(await eventually { sup.status().allSatisfy { $0.state == .stopping || $0.process == nil } })
            for command in [SupervisorCommand.start(program: "web"), .stop(program: "jobs"), .restart(program: "web"),
                            .autoscale(pool: "jobs", count: 3, signal: 99), .scale(pool: "jobs", count: 2)] {
                #expect(await outcome(sup.post(command)) == .shuttingDown, "\(command)")
            }
            // The restart that was waiting is answered too, not left hanging.
            let answered = await outcome(waiting)
            #expect(answered == .shuttingDown, "\(String(describing: answered))")
            #expect(!sink.events.contains { if case .scaled = $0.payload { true } else { false } })
        }
        let sup = try #require(captured)
        #expect(sup.isFinished)
        #expect(await outcome(sup.post(.start(program: "web"))) == .shuttingDown)
    }

    @Test("did you mean", arguments: [
        ("wbe", ["web", "worker"], "web"), ("jobs.9", ["jobs", "jobs.0", "jobs.1"], "jobs.0"),
        ("zzzzzz", ["web"], nil), ("", ["web"], nil),
    ] as [(String, [String], String?)])
    func suggestion(name: String, known: [String], expected: String?) {
        #expect(NameSuggestion.closest(to: name, in: known) == expected)
    }
}

extension UnitStatus {
    var process: InstanceInfo? { instance }
}
