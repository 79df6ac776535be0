import HistCore
import HistModel
import Prometheus
import Synchronization

/// The metrics of one unit (a program, or one pool worker slot). Created once per unit, so the
/// engine's exit → restart path only looks the cell up and increments: no registry lookup, no
/// label arrays, no formatting.
final class UnitCell: Sendable {
    let key: UnitKey
    let labels: [(String, String)]
    let starts: Counter
    let restarts: Counter
    let spawnFailures: Counter
    /// Made at the first exit, so a program that never exited shows no exit code rather than 0.
    private let lastExit = Mutex<(code: Gauge, time: Gauge)?>(nil)
    /// The delay of the last scheduled restart, in nanoseconds; shown while the unit is in backoff.
    let restartDelayNanos = Atomic<Int64>(0)
    /// Counters with a second label (`class`, `reason`, `limit`), made on their first use; the set of
    /// values is small and fixed (exit classes, signal names, limit names), so this stays bounded.
    private let labeled = Mutex<[LabeledKey: Counter]>([:])
    private let registry: PrometheusCollectorRegistry

    struct LabeledKey: Hashable {
        var family: Family
        var value: String
    }

    enum Family: Hashable {
        case exits, crashes, breaches
        var name: String {
            switch self {
            case .exits: MetricName.exits
            case .crashes: MetricName.crashes
            case .breaches: MetricName.limitBreaches
            }
        }
        var label: String {
            switch self {
            case .exits: "class"
            case .crashes: "reason"
            case .breaches: "limit"
            }
        }
    }

    init(key: UnitKey, registry: PrometheusCollectorRegistry) {
        self.key = key
        self.registry = registry
        labels = Self.labels(for: key)
        starts = registry.counter(MetricName.starts, labels)
        restarts = registry.counter(MetricName.restarts, labels)
        spawnFailures = registry.counter(MetricName.spawnFailures, labels)
    }

    static func labels(for key: UnitKey) -> [(String, String)] {
        if let worker = key.workerIndex { return [("program", key.program), ("worker", String(worker))] }
        return [("program", key.program)]
    }

    /// Sets the last exit's code and time (seconds since the epoch).
    func setLastExit(code: Double, time: Double) {
        let gauges = lastExit.withLock { g in
            if let g { return g }
            let made = (code: registry.gauge(MetricName.lastExitCode, labels), time: registry.gauge(MetricName.lastExitTime, labels))
            g = made
            return made
        }
        gauges.code.set(to: code)
        gauges.time.set(to: time)
    }

    /// Increments `family{label=value}`, making the counter on its first use.
    func increment(_ family: Family, _ value: String) {
        let key = LabeledKey(family: family, value: value)
        let counter = labeled.withLock { map -> Counter in
            if let c = map[key] { return c }
            let c = registry.counter(family.name, labels + [(family.label, value)])
            map[key] = c
            return c
        }
        counter.increment()
    }
}
