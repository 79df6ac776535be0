#if canImport(Glibc)
import Glibc
#endif
import HistModel
import Testing
@testable import HistCore

/// Real processes under the engine: restarts, backoff timing, give-up, reset, policies.
@Suite(.serialized) struct RestartTests {
    @Test func crashLoopFollowsBackoffAndGivesUp() async throws {
        let dir = TempDir()
        defer { dir.remove() }
        let crasher = program("crasher", dir.script("crasher", "echo boom >&2; exit 3"),
                              delay: .milliseconds(200), factor: 3, maxRestarts: 3)
        try await withSupervisor([crasher], dir: dir) { sup, sink in
            let gaveUp = await sink.waitFor(.seconds(15)) { $0.contains { $0.isGaveUp } }
            #expect(gaveUp)
            let events = sink.events("crasher")
            let restarts = events.compactMap(\.restart)
            #expect(restarts.map(\.attempt) == [1, 2, 3])
            #expect(restarts.map(\.delay) == [.milliseconds(200), .milliseconds(600), .milliseconds(1800)])
            // Measured gaps between an end and the next start follow the formula: at least the scheduled delay,
            // and before the next backoff step (3x) would have been due: the restart came from this step's timer.
            let ends = events.compactMap(\.ended)
            let starts = events.compactMap(\.started)
            #expect(starts.count == 4)
            #expect(ends.count == 4)
            #expect(ends.allSatisfy { $0.classification == .crash && $0.status == .exited(code: 3) })
            for (i, expected) in [200, 600, 1800].enumerated() where i + 1 < starts.count {
                let gap = starts[i + 1].startedAt.milliseconds - ends[i].endedAt.milliseconds
                #expect(gap >= Int64(expected) - 20, "gap \(i) was \(gap)ms, expected ~\(expected)ms")
                #expect(gap < Int64(expected) * 3, "gap \(i) was \(gap)ms: later than the next backoff step (\(expected * 3)ms)")
            }
            // Each restart_scheduled and the gave_up carry the instance that had just ended.
            var lastEnded: InstanceInfo?
            for e in events {
                switch e.payload {
                case .ended(let end): lastEnded = end.instance
                case .restartScheduled(let instance, _, _, _), .gaveUp(let instance, _, _):
                    #expect(instance != nil && instance == lastEnded, "\(e.kind) carries \(String(describing: instance))")
                default: break
                }
            }
            #expect(sup.status().first?.state == .failed)
            #expect(sup.liveInstances().isEmpty)
        }
    }

    @Test func healthyRunResetsTheCount() async throws {
        let dir = TempDir()
        defer { dir.remove() }
        // Runs 1, 2, 4, 5 crash at once; run 3 lives longer than reset_after, then crashes.
        let script = dir.script("flaky", """
            n=$(cat \(dir.path)/count 2>/dev/null || echo 0); n=$((n+1)); echo $n > \(dir.path)/count
            if [ $n -eq 3 ]; then sleep 0.8; fi
            exit 3
            """)
        let flaky = program("flaky", script, delay: .milliseconds(50), factor: 2, maxRestarts: 0, resetAfter: .milliseconds(500))
        try await withSupervisor([flaky], dir: dir) { sup, sink in
            await sink.waitFor(.seconds(15)) { $0.compactMap(\.restart).count >= 4 }
            let attempts = sink.events("flaky").compactMap(\.restart).prefix(4).map(\.attempt)
            #expect(attempts == [1, 2, 1, 2])
            sup.post(.stop(program: "flaky"))
        }
    }

    /// restart = always | on-failure | never against exit 0, exit 3 and SIGSEGV, all at once.
    @Test func restartPolicyMatrix() async throws {
        let dir = TempDir()
        defer { dir.remove() }
        let endings = ["exit0": "exit 0", "exit3": "exit 3", "segv": "kill -SEGV $$"]
        var programs: [ProgramSpec] = []
        for policy in RestartPolicy.allCases {
            for (name, body) in endings {
                programs.append(program("\(policy.rawValue)-\(name)", dir.script("\(policy.rawValue)-\(name)", "sleep 0.05; \(body)"),
                                        restart: policy, delay: .milliseconds(100), factor: 1))
            }
        }
        try await withSupervisor(programs, dir: dir) { _, sink in
            // Every program that restarts does so at least once within this window.
            await sink.waitFor(.seconds(10)) { events in
                programs.allSatisfy { p in events.filter { $0.program == p.name && $0.started != nil }.count >= 2 }
                    || events.filter { $0.started != nil }.count >= 20
            }
            // Long enough for several run (50 ms) + restart delay (100 ms) cycles: one that should not
            // restart but did would show a second start by then.
            try await Task.sleep(for: .milliseconds((50 + 100) * 4))
            for policy in RestartPolicy.allCases {
                for name in endings.keys {
                    let events = sink.events("\(policy.rawValue)-\(name)")
                    let starts = events.filter { $0.started != nil }.count
                    let shouldRestart = policy == .always || (policy == .onFailure && name != "exit0")
                    if shouldRestart {
                        #expect(starts >= 2, "\(policy)-\(name) should restart")
                    } else {
                        #expect(starts == 1, "\(policy)-\(name) should not restart")
                    }
                    let end = try #require(events.compactMap(\.ended).first)
                    switch name {
                    case "exit0": #expect(end.classification == .clean && end.status == .exited(code: 0))
                    case "exit3": #expect(end.classification == .crash && end.status == .exited(code: 3))
                    default:
                        #expect(end.classification == .crash)
                        #expect(end.status.signal == SIGSEGV)
                    }
                }
            }
        }
    }

    /// restart_delay = 0 restarts in the loop iteration that reaped the exit, never on a timer. The
    /// bound comes from the mechanism, not the clock: a sibling with the same script and a 50 ms
    /// delay pays the same spawn and reap costs plus its timer, so under any load the zero-delay
    /// gaps must stay below the sibling's, and every scheduled delay must be exactly zero.
    @Test func zeroDelayRestartIsImmediate() async throws {
        let dir = TempDir()
        defer { dir.remove() }
        let script = dir.script("fast", "exit 1")
        let fast = program("fast", script, delay: .zero, maxRestarts: 0)
        let timed = program("timed", script, delay: .milliseconds(50), factor: 1, maxRestarts: 0)
        try await withSupervisor([fast, timed], dir: dir) { sup, sink in
            await sink.waitFor(.seconds(30)) { events in
                events.filter { $0.program == "fast" && $0.started != nil }.count >= 20
                    && events.filter { $0.program == "timed" && $0.started != nil }.count >= 6
            }
            sup.post(.stop(program: "fast"))
            sup.post(.stop(program: "timed"))
            func medianGap(_ name: String) -> Int64? {
                let events = sink.events(name)
                let ends = events.compactMap(\.ended)
                let starts = events.compactMap(\.started)
                var gaps: [Int64] = []
                for i in 0..<min(ends.count, max(0, starts.count - 1)) {
                    gaps.append(starts[i + 1].startedAt.milliseconds - ends[i].endedAt.milliseconds)
                }
                gaps.sort()
                return gaps.isEmpty ? nil : gaps[gaps.count / 2]
            }
            #expect(sink.events("fast").compactMap(\.started).count >= 20)
            #expect(sink.events("fast").compactMap(\.restart).allSatisfy { $0.delay == .zero })
            let zero = try #require(medianGap("fast"))
            let fifty = try #require(medianGap("timed"))
            #expect(fifty >= 50, "the 50 ms sibling restarted after \(fifty) ms")
            #expect(zero < fifty, "median end->start gap with restart_delay 0: \(zero) ms, with 50 ms: \(fifty) ms")
        }
    }

    @Test func spawnFailureBacksOffAndGivesUp() async throws {
        let dir = TempDir()
        defer { dir.remove() }
        let ghost = program("ghost", dir.path + "/does-not-exist", delay: .milliseconds(50), maxRestarts: 2)
        var badCwd = program("badcwd", "/bin/true", delay: .milliseconds(50), maxRestarts: 1)
        badCwd.cwd = dir.path + "/missing-folder"
        try await withSupervisor([ghost, badCwd], dir: dir) { sup, sink in
            let done = await sink.waitFor(.seconds(10)) { $0.filter(\.isGaveUp).count == 2 }
            #expect(done)
            let ghostEvents = sink.events("ghost")
            let failures = ghostEvents.compactMap { e -> (Int32, String)? in
                if case .spawnFailed(let errno, let step, _, _) = e.payload { (errno, step) } else { nil }
            }
            #expect(failures.count == 3)
            #expect(failures.allSatisfy { $0.0 == ENOENT && $0.1 == "execve" })
            #expect(ghostEvents.compactMap(\.restart).map(\.attempt) == [1, 2])
            #expect(ghostEvents.allSatisfy { $0.started == nil })
            let cwdSteps = sink.events("badcwd").compactMap { e -> String? in
                if case .spawnFailed(_, let step, _, _) = e.payload { step } else { nil }
            }
            #expect(cwdSteps == ["chdir", "chdir"])
            #expect(sup.status().allSatisfy { $0.state == .failed })
        }
    }

    @Test func limitBreachStopsAndRestartsUnderBackoff() async throws {
        let dir = TempDir()
        defer { dir.remove() }
        let hog = program("hog", dir.script("hog", "exec sleep 1000"), delay: .milliseconds(100), maxRestarts: 5)
        try await withSupervisor([hog], dir: dir) { sup, sink in
            await sink.waitFor { $0.contains { $0.started != nil } }
            let first = try #require(sup.liveInstances().first)
            sup.post(.limitBreached(instance: first.id, limit: .maxMemory, observed: 300 << 20, threshold: 100 << 20))
            let restarted = await sink.waitFor { $0.filter { $0.started != nil }.count >= 2 }
            #expect(restarted)
            let events = sink.events("hog")
            #expect(events.contains { if case .limitBreach(let i, .maxMemory, _, _, .stop, _) = $0.payload { i?.id == first.id } else { false } })
            let end = try #require(events.compactMap(\.ended).first)
            #expect(end.classification == .limit)
            #expect(events.compactMap(\.restart).first?.attempt == 1)
        }
    }
}
