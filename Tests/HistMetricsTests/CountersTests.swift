import Foundation
import HistCore
import HistModel
import Testing
@testable import HistMetrics

/// A real supervisor, real crashing processes: the counters match the events the engine emitted,
/// and the scrape-time gauges match the engine's state.
@Suite(.serialized) struct CountersTests {
    @Test func crashesRestartsAndGivingUpAreCounted() async throws {
        let dir = makeDir()
        defer { removeTree(dir) }
        let crasher = program("crasher", writeScript(dir, "crasher", "exit 3"), maxRestarts: 3)
        let segv = program("segv", writeScript(dir, "segv", "kill -SEGV $$"), maxRestarts: 2)
        let steady = program("steady", writeScript(dir, "steady", "exec sleep 1000"))
        try await withMetrics([crasher, segv, steady], dir: dir) { supervisor, metrics, log in
            let settled = await waitUntil {
                let s = supervisor.status()
                return s.filter { $0.state == .failed }.count == 2 && s.contains { $0.unit.program == "steady" && $0.state == .running }
            }
            try #require(settled, "crasher and segv did not give up: \(supervisor.status())")
            let m = Exposition(metrics.render(.prometheus))
            func count(_ program: String, _ match: (HistEvent.Payload) -> Bool) -> Double {
                Double(log.events.filter { $0.program == program && match($0.payload) }.count)
            }
            let starts = count("crasher") { if case .started = $0 { true } else { false } }
            #expect(starts == 4, "max_restarts = 3: the first run and 3 restarts")
            #expect(m[#"histd_program_starts_total{program="crasher"}"#] == starts)
            #expect(m[#"histd_program_crashes_total{program="crasher",reason="exit_code"}"#] == starts)
            #expect(m[#"histd_program_exits_total{program="crasher",class="crash"}"#] == starts)
            #expect(m[#"histd_program_restarts_total{program="crasher"}"#]
                    == count("crasher") { if case .restartScheduled = $0 { true } else { false } })
            #expect(m[#"histd_program_restarts_total{program="crasher"}"#] == 3)
            #expect(m[#"histd_program_last_exit_code{program="crasher"}"#] == 3)
            #expect(m[#"histd_program_given_up{program="crasher"}"#] == 1)
            #expect(m[#"histd_program_state{program="crasher",state="failed"}"#] == 1)
            #expect(m[#"histd_program_state{program="crasher",state="running"}"#] == 0)
            #expect(m[#"histd_program_up{program="crasher"}"#] == 0)
            #expect(m[#"histd_program_crash_looping{program="crasher"}"#] == 0, "given up is not looping any more")
            #expect(m[#"histd_program_restart_delay_seconds{program="crasher"}"#] == 0)

            #expect(m[#"histd_program_crashes_total{program="segv",reason="SIGSEGV"}"#] == 3)
            #expect(m[#"histd_program_last_exit_code{program="segv"}"#] == Double(128 + 11))

            #expect(m[#"histd_program_up{program="steady"}"#] == 1)
            #expect(m[#"histd_program_starts_total{program="steady"}"#] == 1)
            #expect(m[#"histd_program_restarts_total{program="steady"}"#] == 0, "counters exist at 0 from the start")
            #expect(m[#"histd_program_last_exit_code{program="steady"}"#] == nil, "no exit yet: no exit code")
            #expect(m[#"histd_build_info{version="test"}"#] == 1)
            #expect((m["histd_start_time_seconds"] ?? 0) > 1_700_000_000)
        }
    }

    @Test func crashLoopingAndRestartDelayWhileInBackoff() async throws {
        let dir = makeDir()
        defer { removeTree(dir) }
        // A long second backoff step: the scrape sees it in backoff with the pending delay.
        let looper = ProgramSpec(name: "looper", command: [writeScript(dir, "looper", "exit 1")], restart: .always,
                                 backoff: BackoffPolicy(restartDelay: .milliseconds(20), backoffFactor: 10, maxBackoff: .seconds(20),
                                                        maxRestarts: 0, resetAfter: .seconds(60)))
        try await withMetrics([looper], dir: dir) { supervisor, metrics, _ in
            // Delays 20 ms, 200 ms, 2 s, 20 s: after the 4th crash it waits 20 s in backoff.
            let inLongBackoff = await waitUntil { supervisor.status().first.map { $0.state == .backoff && $0.restarts >= 4 } ?? false }
            try #require(inLongBackoff)
            let m = Exposition(metrics.render(.prometheus))
            #expect(m[#"histd_program_crash_looping{program="looper"}"#] == 1)
            #expect(m[#"histd_program_restart_delay_seconds{program="looper"}"#] == 20)
            #expect(m[#"histd_program_state{program="looper",state="backoff"}"#] == 1)
        }
    }

    @Test func poolWorkersAreLabelledAndCounted() async throws {
        let dir = makeDir()
        defer { removeTree(dir) }
        let worker = program("web", writeScript(dir, "web", "exec sleep 1000"))
        let pool = PoolSpec(worker: worker, minWorkers: 2, maxWorkers: 3)
        try await withMetrics([], pools: [pool], dir: dir) { supervisor, metrics, _ in
            try #require(await waitUntil { supervisor.liveWorkers(pool: "web").count == 2 })
            let m = Exposition(metrics.render(.prometheus))
            #expect(m[#"histd_pool_workers{program="web"}"#] == 2)
            #expect(m[#"histd_pool_desired_workers{program="web"}"#] == 2)
            #expect(m[#"histd_program_up{program="web",worker="0"}"#] == 1)
            #expect(m[#"histd_program_up{program="web",worker="1"}"#] == 1)
            #expect(m[#"histd_program_starts_total{program="web",worker="1"}"#] == 1)
            #expect(m[#"histd_program_starts_total{program="web",worker="2"}"#] == 0, "slots up to max_workers exist at 0")
            #expect(!m.text.contains("pid="), "no pid label")
        }
    }
}
