#if canImport(Glibc)
import Glibc
#endif
import HistModel
import HistProc
import Synchronization

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
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { Glibc.close(fd) }
        var out = [UInt8]()
        var buf = [UInt8](repeating: 0, count: 8192)
        while true {
            let n = read(fd, &buf, buf.count)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            out += buf[0..<n]
        }
        return out.isEmpty ? nil : String(decoding: out, as: UTF8.self)
    }
}
