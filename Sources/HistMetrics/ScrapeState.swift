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

/// The scrape's own state, confined to the scrape lock, so two scrapes (HTTP and the textfile)
/// never interleave. The histd-wide gauges (pools, writer) live in the swift-prometheus registry;
/// the per-unit series are rendered by `UnitExposition` from the cells and `Supervisor.status`.
struct ScrapeState {
    let registry: PrometheusCollectorRegistry
    let pools: [String]
    private var poolGauges: [String: (workers: Gauge, desired: Gauge)] = [:]
    private var writer: WriterGauges?
    /// Reused between scrapes (the exposition of 500 programs is about 0.7 MB).
    var buffer: [UInt8] = []
    /// The registry's part (histd-wide families), before an OpenMetrics rewrite.
    var registryBuffer: [UInt8] = []
    /// The unit renderer's scratch space, reused between scrapes.
    var units = UnitExposition()

    init(registry: PrometheusCollectorRegistry, pools: [String]) {
        self.registry = registry
        self.pools = pools
    }

    final class WriterGauges {
        let queue: Gauge, written: Counter, gaps: Counter
        var dropped: [String: Counter] = [:]
        var seen: WriterStats?
        init(registry: PrometheusCollectorRegistry) {
            queue = registry.gauge(MetricName.queueDepth)
            written = registry.counter(MetricName.written)
            gaps = registry.counter(MetricName.gaps)
        }
    }

    /// Sets the histd-wide scrape-time gauges (pool sizes, writer) in the registry.
    mutating func refresh(_ attached: Attached) {
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
