import HistModel

/// CPU counters of a pool's workers at one moment: per instance, utime+stime (clock ticks) of its
/// whole process tree, including time of children it has reaped.
public struct PoolCPUReading: Hashable, Sendable {
    /// Monotonic time of the reading.
    public var time: Duration
    public var ticks: [InstanceID: UInt64]

    public init(time: Duration, ticks: [InstanceID: UInt64]) {
        self.time = time
        self.ticks = ticks
    }
}

/// The `cpu` line of `/proc/stat` (all cores), in clock ticks.
public struct SystemCPUReading: Hashable, Sendable {
    /// user + nice + system + irq + softirq + steal.
    public var busy: UInt64
    /// busy + idle + iowait.
    public var total: UInt64

    public init(busy: UInt64, total: UInt64) {
        self.busy = busy
        self.total = total
    }
}

/// Turns two readings into the autoscaler's signal, in percent. Pure.
public enum CPUSignal {
    /// CPU% per worker between two readings: 100 means each worker used one full core.
    ///
    /// A worker present in both readings contributes its tick delta; a worker only in the current
    /// reading started after the previous one, so all its ticks fall in the interval. Workers that
    /// ended in between are not seen (a slight underestimate). nil without a previous reading, a
    /// positive interval, or any live worker.
    public static func poolCPU(previous: PoolCPUReading?, current: PoolCPUReading, ticksPerSecond: Int) -> Double? {
        guard let previous, !current.ticks.isEmpty, ticksPerSecond > 0 else { return nil }
        let seconds = (current.time - previous.time).seconds
        guard seconds > 0 else { return nil }
        var used: UInt64 = 0
        for (id, now) in current.ticks {
            let before = previous.ticks[id] ?? 0
            used &+= now >= before ? now - before : 0
        }
        return Double(used) / Double(ticksPerSecond) / seconds / Double(current.ticks.count) * 100
    }

    /// Machine CPU% over all cores between two readings (100 = every core busy).
    public static func systemCPU(previous: SystemCPUReading?, current: SystemCPUReading) -> Double? {
        guard let previous, current.total > previous.total, current.busy >= previous.busy else { return nil }
        return Double(current.busy - previous.busy) / Double(current.total - previous.total) * 100
    }

    /// Parses the first (`cpu `) line of `/proc/stat`.
    public static func parseProcStat(_ text: String) -> SystemCPUReading? {
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("cpu ") }) else { return nil }
        let v = line.split(separator: " ").dropFirst().compactMap { UInt64($0) }
        guard v.count >= 4 else { return nil }
        let field: (Int) -> UInt64 = { $0 < v.count ? v[$0] : 0 }
        // user nice system idle iowait irq softirq steal (guest time is already in user).
        let idle = field(3) &+ field(4)
        let busy = field(0) &+ field(1) &+ field(2) &+ field(5) &+ field(6) &+ field(7)
        return SystemCPUReading(busy: busy, total: busy &+ idle)
    }
}
