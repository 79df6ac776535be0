#if canImport(Glibc)
import Glibc
#endif
import HistCore
import HistModel
import Prometheus
import Synchronization

/// Turns the sampler's sweeps into per-unit resource values (in each unit's `UnitCell`, rendered by
/// `UnitExposition`). Runs on the watcher thread (the sweep's sender), never on the engine's.
///
/// CPU is a counter over the unit's life, not one process's: when a unit's instance changes, the
/// old instance's last sampled CPU stays in a base, so a restart does not reset the counter (CPU
/// spent between an instance's last sample and its exit is not seen).
struct ResourceTracker {
    private var units: [UnitKey: Resources] = [:]
    static let ticksPerSecond = Double(max(1, sysconf(Int32(_SC_CLK_TCK))))

    init() {}

    final class Resources {
        let cell: UnitCell
        /// Ticks of instances that have ended, and of the current instance at its last sample.
        var baseUser: UInt64 = 0, baseSystem: UInt64 = 0
        var instance: InstanceID?
        var currentUser: UInt64 = 0, currentSystem: UInt64 = 0
        /// Ticks already added to the counters.
        var emittedUser: UInt64 = 0, emittedSystem: UInt64 = 0

        init(cell: UnitCell) {
            self.cell = cell
            cell.resources.withLock { if $0 == nil { $0 = UnitCell.ResourceValues() } }
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
            let addUser = totalUser > emittedUser ? Double(totalUser - emittedUser) / ResourceTracker.ticksPerSecond : 0
            let addSystem = totalSystem > emittedSystem ? Double(totalSystem - emittedSystem) / ResourceTracker.ticksPerSecond : 0
            emittedUser = max(emittedUser, totalUser)
            emittedSystem = max(emittedSystem, totalSystem)
            cell.resources.withLock { v in
                guard var r = v else { return }
                if addUser > 0 { r.cpuUser += addUser }
                if addSystem > 0 { r.cpuSystem += addSystem }
                r.resident = Double(s.rssBytes)
                r.processes = Double(s.processes)
                r.threads = Double(s.threads)
                if s.fds >= 0 { r.fds = Double(s.fds) }
                v = r
            }
        }

        func clear() {
            cell.resources.withLock { v in
                guard var r = v else { return }
                r.resident = 0
                r.processes = 0
                r.threads = 0
                r.fds = 0
                v = r
            }
        }
    }

    /// Applies one sweep. `units` maps the live instances to their units; samples of instances
    /// that ended since are skipped. Units without a sample show an empty tree.
    mutating func apply(_ sweep: SnapshotSweep, units map: [InstanceID: UnitKey], cell: (UnitKey) -> UnitCell) {
        var seen = Set<UnitKey>()
        for sample in sweep.samples {
            guard let key = map[sample.instance] else { continue }
            resources(key, cell: cell).add(sample)
            seen.insert(key)
        }
        for (key, r) in units where !seen.contains(key) { r.clear() }
    }

    private mutating func resources(_ key: UnitKey, cell: (UnitKey) -> UnitCell) -> Resources {
        if let r = units[key] { return r }
        let r = Resources(cell: cell(key))
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
