#if canImport(Glibc)
import Glibc
#endif
import HistModel
import Testing
@testable import HistCore

/// The engine carrying out reload plans on real processes: pool workers replaced before the old
/// ones stop, removed programs stopped group by group in stop_order.
@Suite struct ReloadEngineTests {
    static func config(_ programs: [ProgramSpec], pools: [PoolSpec] = [], dir: TempDir) -> HistConfig {
        HistConfig(path: dir.path + "/h.toml", contentHash: "x", supervisor: SupervisorSpec(logDir: dir.path + "/logs"),
                   programs: programs, pools: pools)
    }

    @Test func poolWorkersWithNewSpawnKeysAreReplacedOneByOneAndThePoolNeverEmpties() async throws {
        let dir = TempDir()
        defer { dir.remove() }
        let worker = program("jobs", dir.script("w", "exec sleep 300"))
        let old = PoolSpec(worker: worker, minWorkers: 2, maxWorkers: 2)
        var changed = worker
        changed.env = ["GEN": "2"]
        let new = PoolSpec(worker: changed, minWorkers: 2, maxWorkers: 2)
        try await withSupervisor([], pools: [old], dir: dir) { sup, sink in
            #expect(await sink.waitFor { $0.compactMap(\.started).count == 2 })
            let before = Set(sup.liveWorkers(pool: "jobs").map(\.identity.pid))
            let plan = ReloadPlan.make(old: Self.config([], pools: [old], dir: dir), new: Self.config([], pools: [new], dir: dir))
            #expect(plan.restart == [.init(name: "jobs", keys: ["env"])])
            sup.reload(ReloadRequest(plan: plan, config: Self.config([], pools: [new], dir: dir), origin: "test"))
            // Sample the pool while the workers are replaced: never fewer than 2 live workers.
            var fewest = Int.max
            let deadline = ContinuousClock.now + .seconds(20)
            var now: Set<Int32> = before
            // Sampled once more after the deadline: a test task starved past it still sees the end state.
            while true {
                let live = sup.liveWorkers(pool: "jobs").filter { isAlive($0.identity.pid) }
                fewest = min(fewest, live.count)
                now = Set(live.map(\.identity.pid))
                if now.count == 2 && now.isDisjoint(with: before) && before.allSatisfy({ !isAlive($0) }) { break }
                if ContinuousClock.now >= deadline { break }
                try await Task.sleep(for: .milliseconds(5))
            }
            #expect(now.count == 2 && now.isDisjoint(with: before), "before \(before), now \(now)")
            #expect(fewest >= 2, "the pool dropped to \(fewest) live workers during the replacement")
            let recycled = sink.events("jobs").filter { if case .recycled(_, let r) = $0.payload { r == .reload } else { false } }
            #expect(recycled.count == 2)
            #expect(sink.events("jobs").compactMap(\.ended).allSatisfy { $0.classification != .crash })
        }
    }

    @Test func removedProgramsStopGroupByGroupInStopOrder() async throws {
        let dir = TempDir()
        defer { dir.remove() }
        // "first" takes 300 ms to stop; "second" must not be signalled before "first" is gone.
        let first = program("first", dir.script("f", "trap 'sleep 0.3; exit 0' TERM; while true; do sleep 0.05; done"), stopOrder: 0)
        let second = program("second", dir.script("s", "exec sleep 300"), stopOrder: 1)
        let stays = program("stays", dir.script("k", "exec sleep 300"))
        try await withSupervisor([first, second, stays], dir: dir) { sup, sink in
            #expect(await sink.waitFor { $0.compactMap(\.started).count == 3 })
            let old = Self.config([first, second, stays], dir: dir), new = Self.config([stays], dir: dir)
            let plan = ReloadPlan.make(old: old, new: new)
            #expect(plan.stop == ["first", "second"])
            let staysPID = sup.liveInstances().first { $0.program == "stays" }!.identity.pid
            sup.reload(ReloadRequest(plan: plan, config: new, origin: "test"))
            #expect(await sink.waitFor { $0.filter { $0.ended != nil }.count == 2 })
            let events = sink.events
            let firstEnd = try #require(events.firstIndex { $0.program == "first" && $0.ended != nil })
            let secondStop = try #require(events.firstIndex { $0.program == "second" && $0.isStopRequested })
            #expect(firstEnd < secondStop, "second was signalled before first had stopped")
            #expect(events.contains { if case .stopRequested(_, let reason, _) = $0.payload { reason == .reload } else { false } })
            #expect(sup.liveInstances().map(\.identity.pid) == [staysPID])
            #expect(sup.status().map(\.unit.program) == ["stays"], "removed units are gone from the table")
        }
    }
}
