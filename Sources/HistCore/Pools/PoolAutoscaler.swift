#if canImport(Glibc)
import Glibc
#endif
import Foundation
import HistModel
import Logging
import Synchronization
import HistSys

/// The runtime side of autoscaling for one pool: on its own thread, every `scale_interval` it
/// measures the signal, asks `ScaleDecider`, and on a decision posts `.autoscale` to the engine.
/// It never touches processes or records the resize itself: the engine records `scale_up`/`scale_down`
/// where the resize happens (so a decision that lands during shutdown is answered `.shuttingDown`
/// and recorded nowhere), and its reconcile step turns the new size into starts and stops.
///
/// It follows the engine's published desired size, so an operator's resize is the starting point
/// of the next decision. It ends when the supervisor shuts down.
final class PoolAutoscaler: Sendable {
    let spec: PoolSpec
    let shared: SharedState
    let probe: any PoolCPUProbe
    let logger: Logger
    /// Set by `cancel()` (a reload changed or removed the pool): the thread ends at its next step.
    private let cancelled = Mutex(false)

    init(spec: PoolSpec, shared: SharedState, probe: any PoolCPUProbe, logger: Logger) {
        self.spec = spec
        self.shared = shared
        self.probe = probe
        self.logger = logger
    }

    /// Starts the driver thread.
    func start() {
        let thread = Thread.named("histd-scale-\(spec.name)") { [self] in run() }
        thread.start()
    }

    private var stopped: Bool { cancelled.withLock { $0 } || shared.state.withLock { $0.shuttingDown || $0.finished } }

    /// Ends the driver thread within one sleep step; it posts nothing more.
    func cancel() { cancelled.withLock { $0 = true } }

    private func run() {
        var meter = SignalMeter(scaleOn: spec.scaleOn, probe: probe, pool: spec.name)
        var state = ScaleState(desired: spec.minWorkers)
        _ = meter.measure(live: liveWorkers())  // the baseline for the first interval
        while sleep(spec.scaleInterval) {
            let signal = meter.measure(live: liveWorkers())
            if let current = shared.state.withLock({ $0.desired[spec.name] }) { state.desired = current }
            let (next, decision) = ScaleDecider.decide(signal: signal, now: MonotonicInstant.now().sinceOrigin, state: state, spec: spec)
            state = next
            guard let decision, !stopped else { continue }
            shared.post(.autoscale(pool: spec.name, count: decision.to, signal: decision.signal))
        }
    }

    private func liveWorkers() -> [InstanceInfo] {
        shared.state.withLock { s in s.live.values.filter { $0.program == spec.name } }
    }

    /// Sleeps `interval` in short steps; false once the supervisor is stopping.
    private func sleep(_ interval: Duration) -> Bool {
        let deadline = MonotonicInstant.now().sinceOrigin + interval
        while true {
            if stopped { return false }
            let left = deadline - MonotonicInstant.now().sinceOrigin
            if left <= .zero { return true }
            let step = min(left, .milliseconds(50))
            var ts = timespec(tv_sec: Int(step.components.seconds), tv_nsec: Int(step.components.attoseconds / 1_000_000_000))
            _ = nanosleep(&ts, nil)
        }
    }
}

/// Keeps the previous reading and turns the next one into the pool's signal (see `CPUSignal`).
struct SignalMeter {
    let scaleOn: ScaleSignal
    let probe: any PoolCPUProbe
    let pool: String
    private var lastPool: PoolCPUReading?
    private var lastSystem: SystemCPUReading?

    init(scaleOn: ScaleSignal, probe: any PoolCPUProbe, pool: String) {
        self.scaleOn = scaleOn
        self.probe = probe
        self.pool = pool
    }

    /// The signal since the previous call (nil on the first).
    mutating func measure(live: [InstanceInfo]) -> Double? {
        switch scaleOn {
        case .poolCPU:
            let reading = PoolCPUReading(time: MonotonicInstant.now().sinceOrigin, ticks: probe.treeTicks(live))
            defer { lastPool = reading }
            return CPUSignal.poolCPU(previous: lastPool, current: reading, ticksPerSecond: probe.ticksPerSecond)
        case .systemCPU:
            guard let reading = probe.systemTicks() else { return nil }
            defer { lastSystem = reading }
            return CPUSignal.systemCPU(previous: lastSystem, current: reading)
        }
    }
}
