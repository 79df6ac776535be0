#if canImport(Glibc)
import Glibc
#endif
import HistModel
import HistProc
import Synchronization
import HistSys

/// Where the autoscaler reads CPU counters from (a fake in tests of the driver).
public protocol PoolCPUProbe: Sendable {
    /// Clock ticks per second (the unit of the tick counts).
    var ticksPerSecond: Int { get }
    /// utime+stime (ticks) of each instance's process tree; instances that are gone are omitted.
    func treeTicks(_ instances: [InstanceInfo]) -> [InstanceID: UInt64]
    /// The machine's `/proc/stat` CPU counters, nil if unreadable.
    func systemTicks() -> SystemCPUReading?
}

/// Reads `/proc`: tree CPU through HistProc's `TreeSampler` (the root and every live descendant,
/// each with its reaped children's time), and the `cpu` line of `/proc/stat`.
///
/// Use one per pool: the sampler keeps an fd cache that follows the trees it last sampled.
public final class ProcCPUProbe: PoolCPUProbe {
    public let ticksPerSecond: Int
    private let sampler: Mutex<TreeSampler>
    private let statPath: String

    /// - Parameter root: the proc root ("/proc", or a fixture tree).
    public init(root: String = "/proc") {
        let procfs = ProcFS(root: root, cacheLimit: min(256, FileLimit.cacheBudget()))
        ticksPerSecond = max(1, procfs.ticksPerSecond)
        statPath = root + "/stat"
        sampler = Mutex(TreeSampler(procfs: procfs))
    }

    public func treeTicks(_ instances: [InstanceInfo]) -> [InstanceID: UInt64] {
        let roots = instances.map { (instance: $0.id, identity: $0.identity) }
        let samples = sampler.withLock { $0.sample(roots) }
        var out: [InstanceID: UInt64] = [:]
        for s in samples { out[s.instance] = s.utimeTicks &+ s.stimeTicks }
        return out
    }

    public func systemTicks() -> SystemCPUReading? {
        Self.readFile(statPath).flatMap(CPUSignal.parseProcStat)
    }

    /// The whole file (`/proc/stat` can exceed a page on many-CPU machines).
    static func readFile(_ path: String) -> String? {
        Sys.readText(path).flatMap { $0.isEmpty ? nil : $0 }
    }
}
