import HistCore
import HistModel
import HistStore
import Prometheus

/// What a scrape reads from outside the event stream: the supervisor (unit states, live
/// processes, pool sizes) and the writer (queue, counts).
struct Attached: Sendable {
    var supervisor: Supervisor
    var writer: HistoryWriter?
}

/// The gauges a scrape sets from `Supervisor.status()` and the writer's stats. Confined to the
/// scrape lock, so two scrapes (HTTP and the textfile) never interleave.
struct ScrapeState {
    let registry: PrometheusCollectorRegistry
    let pools: [String]
    private var units: [UnitKey: StateGauges] = [:]
    private var poolGauges: [String: (workers: Gauge, desired: Gauge)] = [:]
    private var writer: WriterGauges?
    /// Reused between scrapes (the exposition of 500 programs is about 1 MB).
    var buffer: [UInt8] = []

    /// Failed runs in a row (the unit's restart count) from which a unit still being restarted is
    /// `crash_looping`.
    static let crashLoopRestarts = 3

    init(registry: PrometheusCollectorRegistry, pools: [String]) {
        self.registry = registry
        self.pools = pools
    }

    final class StateGauges {
        let up: Gauge, crashLooping: Gauge, givenUp: Gauge, restartDelay: Gauge
        let states: [Gauge]
        init(labels: [(String, String)], registry: PrometheusCollectorRegistry) {
            func help(_ n: String) -> String { MetricHelp.text[n]! }
            up = registry.gauge(MetricName.up, labels)
            crashLooping = registry.gauge(MetricName.crashLooping, labels)
            givenUp = registry.gauge(MetricName.givenUp, labels)
            restartDelay = registry.gauge(MetricName.restartDelay, labels)
            states = ProgramState.allCases.map {
                registry.gauge(MetricName.state, labels + [("state", $0.rawValue)])
            }
        }
        func unregister(from registry: PrometheusCollectorRegistry) {
            for g in [up, crashLooping, givenUp, restartDelay] + states { registry.unregisterGauge(g) }
        }
    }

    final class WriterGauges {
        let queue: Gauge, written: Counter, gaps: Counter
        var dropped: [String: Counter] = [:]
        var seen: WriterStats?
        init(registry: PrometheusCollectorRegistry) {
            func help(_ n: String) -> String { MetricHelp.text[n]! }
            queue = registry.gauge(MetricName.queueDepth)
            written = registry.counter(MetricName.written)
            gaps = registry.counter(MetricName.gaps)
        }
    }

    /// Sets every scrape-time gauge. `cells` supplies each unit's pending restart delay.
    mutating func refresh(_ attached: Attached, cells: [UnitKey: UnitCell]) {
        let status = attached.supervisor.status()
        var present = Set<UnitKey>()
        present.reserveCapacity(status.count)
        for s in status {
            present.insert(s.unit)
            let g: StateGauges
            if let existing = units[s.unit] { g = existing } else {
                g = StateGauges(labels: UnitCell.labels(for: s.unit), registry: registry)
                units[s.unit] = g
            }
            g.up.set(to: s.state == .running ? 1 : 0)
            for (i, state) in ProgramState.allCases.enumerated() { g.states[i].set(to: s.state == state ? 1 : 0) }
            g.givenUp.set(to: s.state == .failed ? 1 : 0)
            let restarting = s.state == .backoff || s.state == .starting || s.state == .running
            g.crashLooping.set(to: restarting && s.restarts >= Self.crashLoopRestarts ? 1 : 0)
            let delay = s.state == .backoff ? (cells[s.unit]?.restartDelayNanos.load(ordering: .relaxed) ?? 0) : 0
            g.restartDelay.set(to: Double(delay) / 1e9)
        }
        // Slots removed by a scale-down: their "now" gauges go; their counters stay (they count since start).
        for key in units.keys where !present.contains(key) {
            units.removeValue(forKey: key)?.unregister(from: registry)
        }
        if !pools.isEmpty {
            var alive: [String: Int] = [:]
            for info in attached.supervisor.liveInstances() where info.workerIndex != nil { alive[info.program, default: 0] += 1 }
            for pool in pools {
                let g = poolGauges[pool] ?? {
                    let labels = [("program", pool)]
                    let made = (registry.gauge(MetricName.poolWorkers, labels),
                                registry.gauge(MetricName.poolDesired, labels))
                    poolGauges[pool] = made
                    return made
                }()
                g.workers.set(to: Double(alive[pool] ?? 0))
                g.desired.set(to: Double(attached.supervisor.desiredWorkers(pool: pool) ?? 0))
            }
        }
        if let w = attached.writer { refreshWriter(w.stats) }
    }

    private mutating func refreshWriter(_ stats: WriterStats) {
        let g = writer ?? WriterGauges(registry: registry)
        writer = g
        g.queue.set(to: Double(stats.queued))
        let seenWritten = g.seen?.written ?? 0, seenGaps = g.seen?.gaps ?? 0
        if stats.written > seenWritten { g.written.increment(by: Int64(stats.written - seenWritten)) }
        if stats.gaps > seenGaps { g.gaps.increment(by: Int64(stats.gaps - seenGaps)) }
        for (kind, n) in stats.droppedByKind {
            let before = g.seen?.droppedByKind[kind] ?? 0
            guard n > before else { continue }
            let c = g.dropped[kind] ?? registry.counter(MetricName.dropped, [("kind", kind)])
            g.dropped[kind] = c
            c.increment(by: Int64(n - before))
        }
        g.seen = stats
    }
}
