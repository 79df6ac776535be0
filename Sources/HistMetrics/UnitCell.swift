import HistCore
import HistModel
import Synchronization

/// The metrics of one unit (a program, or one pool worker slot). Created once per unit, so the
/// engine's exit → restart path only looks the cell up and increments atomics: no registry lookup,
/// no label arrays, no formatting. `UnitExposition` renders the cells at scrape time.
final class UnitCell: Sendable {
    let key: UnitKey
    /// The label pairs (`program`, and `worker` for a pool slot).
    let labels: [(String, String)]
    /// The labels as the text format writes them inside the braces, escaped: `program="web",worker="0"`.
    /// Built once, copied into every series of the unit.
    let labelText: [UInt8]
    let starts = Atomic<Int64>(0)
    let restarts = Atomic<Int64>(0)
    let spawnFailures = Atomic<Int64>(0)
    /// Set at the first exit, so a program that never exited shows no exit code rather than 0.
    private let lastExit = Mutex<LastExit?>(nil)
    /// The delay of the last scheduled restart, in nanoseconds; shown while the unit is in backoff.
    let restartDelayNanos = Atomic<Int64>(0)
    /// Counters with a second label (`class`, `reason`, `limit`), made on their first use; the set of
    /// values is small and fixed (exit classes, signal names, limit names), so this stays bounded.
    private let labeled = Mutex<Labeled>(Labeled())
    /// The resource series (CPU, memory, processes, ...), from the first sample of the unit on.
    /// Written by the sweep's thread, read by the scrape.
    let resources = Mutex<ResourceValues?>(nil)

    struct LastExit {
        var code: Double
        var time: Double
    }

    /// What the sampler last set for the unit. CPU seconds accumulate as swift-prometheus's
    /// `Counter.increment(by: Double)` does (the same additions in the same order).
    struct ResourceValues {
        var cpuUser: Double = 0, cpuSystem: Double = 0
        var resident: Double = 0, processes: Double = 0, threads: Double = 0, fds: Double = 0
    }

    struct LabeledKey: Hashable {
        var family: Family
        var value: String
    }

    /// One `family{...,label="value"}` counter of this unit.
    final class LabeledCounter: Sendable {
        let family: Family
        /// The second label's value (`crash`, `SIGSEGV`, `max_memory_mb`).
        let value: String
        /// `,class="crash"} `: what follows the unit's labels in the series line.
        let suffix: [UInt8]
        let count = Atomic<Int64>(0)
        init(family: Family, value: String) {
            self.family = family
            self.value = value
            var s: [UInt8] = [UInt8(ascii: ",")]
            UnitCell.appendLabel(family.label, value, to: &s)
            s.append(contentsOf: "} ".utf8)
            suffix = s
        }
    }

    /// The labeled counters, by key for the engine's increment and in creation order for the scrape.
    struct Labeled {
        var byKey: [LabeledKey: LabeledCounter] = [:]
        var list: [LabeledCounter] = []
    }

    enum Family: Hashable, CaseIterable {
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

    init(key: UnitKey) {
        self.key = key
        labels = Self.labels(for: key)
        var text: [UInt8] = []
        for (i, (name, value)) in labels.enumerated() {
            if i > 0 { text.append(UInt8(ascii: ",")) }
            Self.appendLabel(name, value, to: &text)
        }
        labelText = text
    }

    static func labels(for key: UnitKey) -> [(String, String)] {
        if let worker = key.workerIndex { return [("program", key.program), ("worker", String(worker))] }
        return [("program", key.program)]
    }

    /// `name="value"`, the value escaped as the text format (and swift-prometheus) does: `\\`, `\"`, `\n`.
    static func appendLabel(_ name: String, _ value: String, to b: inout [UInt8]) {
        b.append(contentsOf: name.utf8)
        b.append(contentsOf: "=\"".utf8)
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "\\"): b.append(contentsOf: #"\\"#.utf8)
            case UInt8(ascii: "\""): b.append(contentsOf: #"\""#.utf8)
            case UInt8(ascii: "\n"): b.append(contentsOf: #"\n"#.utf8)
            default: b.append(byte)
            }
        }
        b.append(UInt8(ascii: "\""))
    }

    /// Sets the last exit's code and time (seconds since the epoch).
    func setLastExit(code: Double, time: Double) {
        lastExit.withLock { $0 = LastExit(code: code, time: time) }
    }

    var lastExitValues: LastExit? { lastExit.withLock { $0 } }

    /// Increments `family{label=value}`, making the counter on its first use.
    func increment(_ family: Family, _ value: String) {
        let key = LabeledKey(family: family, value: value)
        let counter = labeled.withLock { l -> LabeledCounter in
            if let c = l.byKey[key] { return c }
            let c = LabeledCounter(family: family, value: value)
            l.byKey[key] = c
            l.list.append(c)
            return c
        }
        counter.count.add(1, ordering: .relaxed)
    }

    /// The labeled counters in creation order (no copy: the array is shared until the next new one).
    var labeledCounters: [LabeledCounter] { labeled.withLock { $0.list } }
}
