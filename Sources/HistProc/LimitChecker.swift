import HistModel

/// A limit crossed by one sample: what the engine records as `limit_breach` before it stops the
/// program.
public struct LimitBreach: Hashable, Sendable {
    public var limit: LimitKind
    /// The observed value (bytes for memory).
    public var observed: Int64
    /// The threshold it crossed, in the same unit.
    public var threshold: Int64

    public init(limit: LimitKind, observed: Int64, threshold: Int64) {
        self.limit = limit
        self.observed = observed
        self.threshold = threshold
    }
}

/// Pure check of a sample against a program's polled limits.
public enum LimitChecker {
    /// `max_memory_mb` is in MiB (1 MB = 1,048,576 bytes), compared with the RSS of the whole
    /// process tree. A breach is RSS strictly above the threshold; nil when within the limit or
    /// when the program has none.
    public static func check(_ spec: ProgramSpec, _ sample: InstanceSample) -> LimitBreach? {
        guard let mb = spec.maxMemoryMB, mb > 0 else { return nil }
        let threshold = Int64(mb) * 1_048_576
        let observed = Int64(clamping: sample.rssBytes)
        return observed > threshold ? LimitBreach(limit: .maxMemory, observed: observed, threshold: threshold) : nil
    }
}
