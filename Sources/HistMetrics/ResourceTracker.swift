#if canImport(Glibc)
import Glibc
#endif
import HistCore
import HistModel
import Prometheus
import Synchronization

/// Turns the sampler's sweeps into per-unit resource metrics. Runs on the watcher thread (the
/// sweep's sender), never on the engine's.
///
/// CPU is a counter over the unit's life, not one process's: when a unit's instance changes, the
/// old instance's last sampled CPU stays in a base, so a restart does not reset the counter (CPU
/// spent between an instance's last sample and its exit is not seen).
struct ResourceTracker {
    let registry: PrometheusCollectorRegistry
    private var units: [UnitKey: Resources] = [:]
    static let ticksPerSecond = Double(max(1, sysconf(Int32(_SC_CLK_TCK))))

    init(registry: PrometheusCollectorRegistry) { self.registry = registry }

    final class Resources {
        let user: Counter, system: Counter
        let resident: Gauge, processes: Gauge, threads: Gauge, fds: Gauge
        /// Ticks of instances that have ended, and of the current instance at its last sample.
        var baseUser: UInt64 = 0, baseSystem: UInt64 = 0
        var instance: InstanceID?
        var currentUser: UInt64 = 0, currentSystem: UInt64 = 0
        /// Ticks already added to the counters.
        var emittedUser: UInt64 = 0, emittedSystem: UInt64 = 0

        init(labels: [(String, String)], registry: PrometheusCollectorRegistry) {
            func help(_ n: String) -> String { MetricHelp.text[n]! }
            user = registry.counter(MetricName.cpu, labels + [("mode", "user")])
            system = registry.counter(MetricName.cpu, labels + [("mode", "system")])
            resident = registry.gauge(MetricName.resident, labels)
            processes = registry.gauge(MetricName.processes, labels)
            threads = registry.gauge(MetricName.threads, labels)
            fds = registry.gauge(MetricName.openFDs, labels)
        }

        func add(_ s: InstanceSample) {
            if instance != s.instance {
                baseUser += currentUser
                baseSystem += currentSystem
                instance = s.instance
                currentUser = 0
                currentSystem = 0
            }
            // A tree's sum can dip when a descendant is reaped outside the tree; the counter never does.
            currentUser = max(currentUser, s.utimeTicks)
            currentSystem = max(currentSystem, s.stimeTicks)
            let totalUser = baseUser + currentUser, totalSystem = baseSystem + currentSystem
            if totalUser > emittedUser { user.increment(by: Double(totalUser - emittedUser) / ResourceTracker.ticksPerSecond) }
            if totalSystem > emittedSystem { system.increment(by: Double(totalSystem - emittedSystem) / ResourceTracker.ticksPerSecond) }
            emittedUser = max(emittedUser, totalUser)
            emittedSystem = max(emittedSystem, totalSystem)
            resident.set(to: Double(s.rssBytes))
            processes.set(to: Double(s.processes))
            threads.set(to: Double(s.threads))
            if s.fds >= 0 { fds.set(to: Double(s.fds)) }
        }

        func clear() {
            resident.set(to: 0)
            processes.set(to: 0)
            threads.set(to: 0)
            fds.set(to: 0)
        }
    }

    /// Applies one sweep. `units` maps the live instances to their units; samples of instances
    /// that ended since are skipped. Units without a sample show an empty tree.
    mutating func apply(_ sweep: SnapshotSweep, units map: [InstanceID: UnitKey], cells: [UnitCell]) {
        var seen = Set<UnitKey>()
        for sample in sweep.samples {
            guard let key = map[sample.instance] else { continue }
            resources(key, labels: UnitCell.labels(for: key)).add(sample)
            seen.insert(key)
        }
        for (key, r) in units where !seen.contains(key) { r.clear() }
    }

    private mutating func resources(_ key: UnitKey, labels: [(String, String)]) -> Resources {
        if let r = units[key] { return r }
        let r = Resources(labels: labels, registry: registry)
        units[key] = r
        return r
    }
}

/// `histd_zombies`, `histd_orphans` and `histd_processes{state}`, made at the first scan (so a
/// histd with scans off does not claim zero zombies).
final class SystemGauges: Sendable {
    private let gauges: Mutex<Made?> = Mutex(nil)
    private let registry: PrometheusCollectorRegistry

    struct Made {
        let zombies: Gauge, orphans: Gauge
        let byState: [(String, Gauge)]
    }

    init(registry: PrometheusCollectorRegistry) { self.registry = registry }

    static let states = ["running", "sleeping", "disk_sleep", "zombie", "stopped", "other"]

    func apply(_ scan: ScanReport) {
        let s = scan.summary
        let values: [Int] = [s.running, s.sleeping, s.diskSleep, s.zombie, s.stopped, s.other]
        gauges.withLock { made in
            if made == nil {
                func help(_ n: String) -> String { MetricHelp.text[n]! }
                made = Made(
                    zombies: registry.gauge(MetricName.zombies),
                    orphans: registry.gauge(MetricName.orphans),
                    byState: Self.states.map { ($0, registry.gauge(MetricName.systemProcesses, [("state", $0)])) })
            }
            guard let made else { return }
            made.zombies.set(to: Double(s.zombie))
            made.orphans.set(to: Double(scan.orphans.count))
            for (i, (_, g)) in made.byState.enumerated() { g.set(to: Double(values[i])) }
        }
    }
}
