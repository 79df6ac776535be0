import HistCore
import HistModel
import HistStore
import Prometheus

/// What a scrape reads from outside the event stream: the supervisor (unit states, live
/// processes, pool sizes) and the writer (queue, counts).
struct Attached: Sendable {
    var supervisor: Supervisor
    var writer: HistoryWriter?
    /// The database whose histd-ship state file (ShipState) the ship gauges read; nil: no [ship].
    var shipDatabase: String? = nil
}

/// The scrape's own state, confined to the scrape lock, so two scrapes (HTTP and the textfile)
/// never interleave. The histd-wide gauges (pools, writer) live in the swift-prometheus registry;
/// the per-unit series are rendered by `UnitExposition` from the cells and `Supervisor.status`.
struct ScrapeState {
    let registry: PrometheusCollectorRegistry
    let pools: [String]
    private var poolGauges: [String: (workers: Gauge, desired: Gauge)] = [:]
    private var writer: WriterGauges?
    private var ship: ShipGauges?
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

    final class ShipGauges {
        let up: Gauge, backlog: Gauge, lastSuccess: Gauge, stateTime: Gauge, gaps: Counter, gapRows: Counter
        var oldest: Gauge?
        var seenGaps: UInt64 = 0, seenGapRows: UInt64 = 0
        init(registry: PrometheusCollectorRegistry) {
            up = registry.gauge(MetricName.shipUp)
            backlog = registry.gauge(MetricName.shipBacklog)
            lastSuccess = registry.gauge(MetricName.shipLastSuccess)
            stateTime = registry.gauge(MetricName.shipStateTime)
            gaps = registry.counter(MetricName.shipGaps)
            gapRows = registry.counter(MetricName.shipGapRows)
        }
    }

    /// The ship gauges from the state file (one small read per scrape); up 0 and the last values kept
    /// when it is missing or unusable. The gap counters from the writer's stats.
    private mutating func refreshShip(_ dbPath: String, _ stats: WriterStats?) {
        let g = ship ?? ShipGauges(registry: registry)
        ship = g
        if case .success(let s) = ShipState.read(forDatabase: dbPath) {
            g.up.set(to: s.state == ShipState.shipping ? 1 : 0)
            g.backlog.set(to: Double(s.backlogRows))
            if let t = s.lastSuccessAt { g.lastSuccess.set(to: Double(t) / 1000) }
            g.stateTime.set(to: Double(s.updatedAt) / 1000)
            if let t = s.oldestUnshippedAt {
                let o = g.oldest ?? registry.gauge(MetricName.shipOldest)
                g.oldest = o
                o.set(to: Double(t) / 1000)
            } else if g.oldest != nil {
                registry.unregisterGauge(g.oldest!)
                g.oldest = nil
            }
        } else {
            g.up.set(to: 0)
        }
        if let stats {
            if stats.shipGaps > g.seenGaps { g.gaps.increment(by: Int64(stats.shipGaps - g.seenGaps)) }
            if stats.shipGapRows > g.seenGapRows { g.gapRows.increment(by: Int64(stats.shipGapRows - g.seenGapRows)) }
            g.seenGaps = stats.shipGaps
            g.seenGapRows = stats.shipGapRows
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
        let stats = attached.writer?.stats
        if let stats { refreshWriter(stats) }
        if let db = attached.shipDatabase { refreshShip(db, stats) }
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
