#if canImport(Glibc)
import Glibc
#endif
import CShim
import HistModel
import Synchronization
import Testing
@testable import HistCore

/// The autoscaler driver with real workers: up under a CPU-burning load, back down after it stops.
@Suite(.serialized) struct PoolScalingTests {
    @Test func scalesUpUnderCPULoadAndDownAfterItStops() async throws {
        let dir = TempDir()
        defer { dir.remove() }
        let flag = dir.path + "/burn"
        dir.write(flag, "")
        // Busy in the shell itself (`[` and `:` are builtins) while the flag file exists.
        let worker = program("burners", dir.script("w", """
            while :; do if [ -f \(flag) ]; then :; else sleep 0.05; fi; done
            """), stopTimeout: .seconds(2))
        let pool = PoolSpec(worker: worker, minWorkers: 1, maxWorkers: 3, scaleOn: .poolCPU, cpuTarget: 30,
                            scaleInterval: .milliseconds(300), scaleDownAfter: .seconds(1))
        try await withPoolSupervisor([], pools: [pool], dir: dir) { sup, sink in
            let upped = await sink.waitFor(.seconds(20)) { $0.contains { $0.scaled?.to == 3 } }
            #expect(upped)
            #expect(await eventually { sup.liveWorkers(pool: "burners").count == 3 })
            #expect(sup.desiredWorkers(pool: "burners") == 3)
            let ups = sink.events("burners").compactMap(\.scaled).filter(\.up)
            #expect(ups.map { [$0.from, $0.to] } == [[1, 2], [2, 3]])
            #expect(ups.allSatisfy { $0.signal > 30 }, "signals \(ups.map(\.signal))")

            unlink(flag)
            let downed = await sink.waitFor(.seconds(20)) { $0.contains { $0.scaled.map { !$0.up && $0.to == 1 } == true } }
            #expect(downed)
            #expect(await eventually { sup.liveWorkers(pool: "burners").count == 1 && sup.status().count == 1 })
            let events = sink.events("burners")
            let downEvents = events.filter { $0.scaled.map { !$0.up } == true }
            let downs = downEvents.compactMap(\.scaled)
            #expect(downs.map { [$0.from, $0.to] } == [[3, 2], [2, 1]])
            #expect(downs.allSatisfy { $0.signal < 15 }, "signals \(downs.map(\.signal))")
            // Each step down needed its own scale_down_after below target/2.
            if downEvents.count == 2 {
                #expect(downEvents[1].time.milliseconds - downEvents[0].time.milliseconds >= 900)
            }
            // No more ups after the load stopped, and the scale-downs stopped workers gracefully.
            #expect(events.compactMap(\.scaled).filter(\.up).count == 2)
            let stops = events.filter { $0.stopReason == "scale_down" }
            #expect(stops.count == 2)
            #expect(events.compactMap(\.ended).filter { $0.classification == .stopped }.count == 2)
            // The survivor is the oldest worker.
            let firstStarted = events.compactMap(\.started).first
            #expect(sup.liveWorkers(pool: "burners").first?.id == firstStarted?.id)
        }
    }

    /// A probe that reports the whole machine busy, to drive `system_cpu` without real load.
    final class BusyMachine: PoolCPUProbe {
        let counter = Mutex<UInt64>(0)
        var ticksPerSecond: Int { 100 }
        func treeTicks(_ instances: [InstanceInfo]) -> [InstanceID: UInt64] { [:] }
        func systemTicks() -> SystemCPUReading? {
            let n = counter.withLock { $0 += 1000; return $0 }
            return SystemCPUReading(busy: n * 9 / 10, total: n)
        }
    }

    @Test func systemCPUSignalDrivesTheSameDecisions() async throws {
        let dir = TempDir()
        defer { dir.remove() }
        let worker = program("sysw", dir.script("w", "exec sleep 1000"))
        let pool = PoolSpec(worker: worker, minWorkers: 1, maxWorkers: 2, scaleOn: .systemCPU, cpuTarget: 80,
                            scaleInterval: .milliseconds(100), scaleDownAfter: .seconds(60))
        let sink = CollectingSink()
        let spec = SupervisorSpec(logDir: dir.path + "/logs", shutdownTimeout: .seconds(10))
        let sup = try Supervisor(programs: [], pools: [pool], supervisor: spec, sink: sink, logger: .init(label: "t"),
                                 options: SupervisorOptions(reapScope: .supervisedOnly, handleSignals: false,
                                                            cpuProbe: BusyMachine()))
        try sup.start()
        let scaled = await sink.waitFor(.seconds(10)) { $0.contains { $0.scaled != nil } }
        let two = await eventually { sup.liveWorkers(pool: "sysw").count == 2 }
        sup.post(.shutdown)
        await sup.waitUntilFinished()
        for e in sink.events { if let i = e.started, histd_proc_start_ticks(i.identity.pid) == i.identity.startTicks { kill(i.identity.pid, SIGKILL) } }
        #expect(scaled)
        #expect(two)
        let decisions = sink.events.compactMap(\.scaled)
        #expect(decisions.count == 1, "at max after one step")
        #expect(decisions.first.map { $0.up && $0.from == 1 && $0.to == 2 && abs($0.signal - 90) < 1e-9 } == true)
    }
}
