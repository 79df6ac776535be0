#if canImport(Glibc)
import Glibc
#endif
import CShim
import HistModel
import Testing
@testable import HistCore

/// Pure pool logic as tables: the autoscaling decision, the reconcile plan, the CPU signal, the
/// age jitter. No processes.
@Suite struct PoolDeciderTests {
    static let spec = PoolSpec(worker: ProgramSpec(name: "w", command: ["/bin/true"]), minWorkers: 2, maxWorkers: 4,
                               cpuTarget: 70, scaleInterval: .seconds(5), scaleDownAfter: .seconds(60))

    struct Row: Sendable, CustomTestStringConvertible {
        var name: String
        var signal: Double?
        var now: Duration
        var state: ScaleState
        var expectState: ScaleState
        var expectDecision: ScaleDecision?
        var testDescription: String { name }
    }

    static let t0 = Duration.seconds(1000)
    static let rows: [Row] = [
        Row(name: "no signal yet: nothing", signal: nil, now: t0, state: .init(desired: 2, belowSince: t0 - .seconds(90)),
            expectState: .init(desired: 2, belowSince: t0 - .seconds(90)), expectDecision: nil),
        Row(name: "above target: one step up", signal: 95, now: t0, state: .init(desired: 2),
            expectState: .init(desired: 3), expectDecision: .init(up: true, signal: 95, from: 2, to: 3)),
        Row(name: "above target ends a below-window", signal: 71, now: t0, state: .init(desired: 3, belowSince: t0 - .seconds(10)),
            expectState: .init(desired: 4), expectDecision: .init(up: true, signal: 71, from: 3, to: 4)),
        Row(name: "above target at max: stays", signal: 300, now: t0, state: .init(desired: 4),
            expectState: .init(desired: 4), expectDecision: nil),
        Row(name: "exactly at target: no change", signal: 70, now: t0, state: .init(desired: 3),
            expectState: .init(desired: 3), expectDecision: nil),
        Row(name: "between target/2 and target: window reset", signal: 50, now: t0, state: .init(desired: 3, belowSince: t0 - .seconds(59)),
            expectState: .init(desired: 3, belowSince: nil), expectDecision: nil),
        Row(name: "exactly target/2 is not below", signal: 35, now: t0, state: .init(desired: 3, belowSince: t0 - .seconds(100)),
            expectState: .init(desired: 3, belowSince: nil), expectDecision: nil),
        Row(name: "first low reading starts the window", signal: 10, now: t0, state: .init(desired: 3),
            expectState: .init(desired: 3, belowSince: t0), expectDecision: nil),
        Row(name: "low, but not long enough", signal: 10, now: t0, state: .init(desired: 3, belowSince: t0 - .seconds(59)),
            expectState: .init(desired: 3, belowSince: t0 - .seconds(59)), expectDecision: nil),
        Row(name: "low for scale_down_after: one step down, window restarts", signal: 10, now: t0,
            state: .init(desired: 3, belowSince: t0 - .seconds(60)),
            expectState: .init(desired: 2, belowSince: t0), expectDecision: .init(up: false, signal: 10, from: 3, to: 2)),
        Row(name: "low for long at min: stays", signal: 0, now: t0, state: .init(desired: 2, belowSince: t0 - .seconds(600)),
            expectState: .init(desired: 2, belowSince: t0 - .seconds(600)), expectDecision: nil),
        Row(name: "operator set above max: a low signal steps down from there", signal: 1, now: t0,
            state: .init(desired: 7, belowSince: t0 - .seconds(61)),
            expectState: .init(desired: 4, belowSince: t0), expectDecision: .init(up: false, signal: 1, from: 7, to: 4)),
        Row(name: "operator set below min: a high signal steps up to at least min", signal: 99, now: t0, state: .init(desired: 0),
            expectState: .init(desired: 2), expectDecision: .init(up: true, signal: 99, from: 0, to: 2)),
        Row(name: "NaN signal is ignored", signal: .nan, now: t0, state: .init(desired: 3),
            expectState: .init(desired: 3), expectDecision: nil),
    ]

    @Test(arguments: rows) func decide(_ row: Row) {
        let (state, decision) = ScaleDecider.decide(signal: row.signal, now: row.now, state: row.state, spec: Self.spec)
        #expect(state == row.expectState)
        #expect(decision == row.expectDecision)
    }

    @Test func stepsDownOncePerWindowUnderSustainedLowLoad() {
        var state = ScaleState(desired: 4)
        var downs: [Duration] = []
        for tick in 0...60 {  // 5 s ticks over 300 s
            let now = Duration.seconds(5 * tick)
            let (next, d) = ScaleDecider.decide(signal: 5, now: now, state: state, spec: Self.spec)
            state = next
            if d != nil { downs.append(now) }
        }
        #expect(downs == [.seconds(60), .seconds(120)])
        #expect(state.desired == 2)
    }

    // MARK: reconcile

    static func key(_ i: Int) -> UnitKey { UnitKey(program: "w", workerIndex: i) }
    static func live(_ i: Int, startedAt ms: Int64, id: InstanceID) -> WorkerSlot {
        WorkerSlot(key: key(i), standing: .live,
                   instance: InstanceInfo(id: id, program: "w", workerIndex: i, identity: .init(pid: 100 + Int32(i), startTicks: 1),
                                          startedAt: Timestamp(milliseconds: ms)))
    }

    @Test func reconcileStartsTheDifferenceFromLiveProcesses() {
        // Two live, desired 4: start 2.
        #expect(PoolReconciler.plan(desired: 4, slots: [Self.live(0, startedAt: 1, id: 1), Self.live(1, startedAt: 2, id: 2)])
                == PoolPlan(start: 2))
        // A slot being removed does not count as a worker.
        let leaving = WorkerSlot(key: Self.key(2), standing: .leaving)
        #expect(PoolReconciler.plan(desired: 2, slots: [Self.live(0, startedAt: 1, id: 1), leaving]).start == 1)
        // At size: nothing.
        #expect(PoolReconciler.plan(desired: 1, slots: [Self.live(0, startedAt: 1, id: 1)]).isEmpty)
    }

    @Test func reconcileCountsBackoffAsComingBackAndRetiresItFirst() {
        let backoff = WorkerSlot(key: Self.key(0), standing: .pending)
        let slots = [backoff, Self.live(1, startedAt: 5, id: 5), Self.live(2, startedAt: 9, id: 9)]
        // Pending counts: no extra start (that would bypass the backoff).
        #expect(PoolReconciler.plan(desired: 3, slots: slots).isEmpty)
        // Shrinking drops the slot without a process before any live worker.
        #expect(PoolReconciler.plan(desired: 2, slots: slots).retire == [Self.key(0)])
        // Then the newest live worker (latest start), not the highest index.
        let mixed = [Self.live(0, startedAt: 50, id: 7), Self.live(1, startedAt: 10, id: 2), Self.live(2, startedAt: 20, id: 3)]
        #expect(PoolReconciler.plan(desired: 1, slots: mixed).retire == [Self.key(0), Self.key(2)])
    }

    @Test func retiringWorkerWaitsForItsReplacement() {
        let old = WorkerSlot(key: Self.key(0), standing: .retiring(replacement: nil), instance: Self.live(0, startedAt: 1, id: 1).instance)
        // Needs a replacement: one start, paired.
        #expect(PoolReconciler.plan(desired: 1, slots: [old]) == PoolPlan(start: 1, needReplacement: [Self.key(0)]))
        // Replacement spawned and live: release the old one.
        let paired = WorkerSlot(key: Self.key(0), standing: .retiring(replacement: Self.key(1)), instance: old.instance)
        #expect(PoolReconciler.plan(desired: 1, slots: [paired, Self.live(1, startedAt: 2, id: 2)]) == PoolPlan(release: [Self.key(0)]))
        // Replacement in backoff (spawn failed): keep the old one serving.
        let waiting = [paired, WorkerSlot(key: Self.key(1), standing: .pending)]
        #expect(PoolReconciler.plan(desired: 1, slots: waiting).isEmpty)
        // The pool was shrunk meanwhile so no replacement is needed: release at once.
        #expect(PoolReconciler.plan(desired: 0, slots: [old]) == PoolPlan(release: [Self.key(0)]))
    }

    // MARK: signal

    @Test func poolCPUIsPerWorkerPercentFromTickDeltas() {
        let before = PoolCPUReading(time: .seconds(10), ticks: [1: 100, 2: 500])
        // Over 2 s at 100 ticks/s: worker 1 used 200 ticks (one core), worker 2 used 0, worker 3 is new with 100.
        let after = PoolCPUReading(time: .seconds(12), ticks: [1: 300, 2: 500, 3: 100])
        let signal = CPUSignal.poolCPU(previous: before, current: after, ticksPerSecond: 100)
        #expect(signal.map { abs($0 - 50) < 1e-9 } == true)  // (200 + 0 + 100) / 100 / 2 s / 3 workers = 50%
        #expect(CPUSignal.poolCPU(previous: nil, current: after, ticksPerSecond: 100) == nil)
        #expect(CPUSignal.poolCPU(previous: before, current: .init(time: .seconds(12), ticks: [:]), ticksPerSecond: 100) == nil)
    }

    @Test func systemCPUFromProcStat() {
        let a = CPUSignal.parseProcStat("cpu  100 0 100 700 100 0 0 0 0 0\ncpu0 1 2 3 4\nintr 5\n")
        let b = CPUSignal.parseProcStat("cpu  250 0 150 800 100 0 0 0 0 0\n")
        #expect(a == SystemCPUReading(busy: 200, total: 1000))
        #expect(b == SystemCPUReading(busy: 400, total: 1300))
        #expect(CPUSignal.systemCPU(previous: a, current: b!).map { abs($0 - 200.0 / 3) < 1e-9 } == true)
        #expect(CPUSignal.parseProcStat("garbage") == nil)
    }

    @Test func realProbeReadsThisProcessAndTheMachine() {
        let probe = ProcCPUProbe()
        #expect(probe.systemTicks().map { $0.total > $0.busy } == true)
        #expect(probe.ticksPerSecond > 0)
        // This test process as a "worker": its tree has used some CPU (it compiled nothing, but ran).
        var x: UInt64 = 0
        for i in 0..<20_000_000 { x &+= UInt64(i) ^ x }
        let me = getpid()
        let info = InstanceInfo(id: 1, program: "self", identity: .init(pid: me, startTicks: histd_proc_start_ticks(me)),
                                startedAt: .now())
        #expect((probe.treeTicks([info])[1] ?? 0) > 0, "\(x)")
        // A pid whose start ticks do not match is not that process: omitted.
        let wrong = InstanceInfo(id: 2, program: "self", identity: .init(pid: me, startTicks: 1), startedAt: .now())
        #expect(probe.treeTicks([wrong]).isEmpty)
    }

    // MARK: jitter

    @Test func ageJitterIsSeededAndSpread() {
        var a = SeededGenerator(seed: 42), b = SeededGenerator(seed: 42)
        let lives = (0..<8).map { _ in AgeSchedule.lifetime(maxAge: .seconds(100), jitter: 0.2, using: &a) }
        let again = (0..<8).map { _ in AgeSchedule.lifetime(maxAge: .seconds(100), jitter: 0.2, using: &b) }
        #expect(lives == again)
        #expect(lives.allSatisfy { $0 >= .seconds(100) && $0 < .seconds(120) })
        // Workers started together land in different seconds.
        #expect(Set(lives.map { $0.components.seconds }).count >= 5)
        var c = SeededGenerator(seed: 1)
        #expect(AgeSchedule.lifetime(maxAge: .seconds(5), jitter: 0, using: &c) == .seconds(5))
    }
}
