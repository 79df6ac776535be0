import HistCore
import HistModel

/// Renders the per-unit series (about 24 per program: 12,000 samples at 500 programs) straight from
/// the `UnitCell`s and the supervisor's unit states into the exposition buffer.
///
/// Why not swift-prometheus's registry for these: its `emit` builds a String for every value, and a
/// scrape-time gauge per unit and state had to be set from `Supervisor.status()` before every emit;
/// together that was most of a scrape (BENCHMARKS.md, Metrics). Here each unit's label text is built
/// once (in its cell), the state families are written from the status rows directly (nothing to set
/// first), and values go through `SampleText`. The text is what swift-prometheus writes for the same
/// series: the same `# HELP`/`# TYPE` lines, label order, escaping and number format
/// (`UnitExpositionTests` renders both and compares them line for line). The histd-wide metrics
/// (writer, histograms, scan, pools, control) stay in the registry.
struct UnitExposition {
    /// One unit's scrape-time state, collected once per scrape.
    struct Row {
        var cell: UnitCell
        var state: ProgramState
        var restarts: Int
        var delayNanos: Int64
    }

    private var rows: [Row] = []
    private var labeled: [[UnitCell.LabeledCounter]] = []
    private var exits: [UnitCell.LastExit?] = []
    private var resources: [UnitCell.ResourceValues?] = []

    /// Failed runs in a row (the unit's restart count) from which a unit still being restarted is
    /// `crash_looping`.
    static let crashLoopRestarts = 3

    /// Appends every per-unit family. `cells` in render order; `status` the supervisor's units (nil
    /// before `attach`: then only the counters are shown); `cell` finds or makes a unit's cell.
    mutating func render(into b: inout [UInt8], format: ExpositionFormat, cells: [UnitCell], status: [UnitStatus]?,
                         cell: (UnitKey) -> UnitCell) {
        let om = format == .openMetrics
        labeled.removeAll(keepingCapacity: true)
        exits.removeAll(keepingCapacity: true)
        resources.removeAll(keepingCapacity: true)
        for c in cells {
            labeled.append(c.labeledCounters)
            exits.append(c.lastExitValues)
            resources.append(c.resources.withLock { $0 })
        }

        // Counters every unit has from the start.
        Self.family(.starts, om, &b)
        for c in cells { Self.line(Self.starts, c, &b) { SampleText.appendInt(c.starts.load(ordering: .relaxed), to: &$0) } }
        Self.family(.restarts, om, &b)
        for c in cells { Self.line(Self.restarts, c, &b) { SampleText.appendInt(c.restarts.load(ordering: .relaxed), to: &$0) } }
        Self.family(.spawnFailures, om, &b)
        for c in cells { Self.line(Self.spawnFailures, c, &b) { SampleText.appendInt(c.spawnFailures.load(ordering: .relaxed), to: &$0) } }

        // Counters with a second label, made on first use.
        for family in UnitCell.Family.allCases {
            let name = Self.bytes(family.name)
            var headed = false
            for (i, c) in cells.enumerated() {
                for counter in labeled[i] where counter.family == family {
                    if !headed { Self.family(Self.descriptor(family), om, &b); headed = true }
                    b.append(contentsOf: name)
                    b.append(UInt8(ascii: "{"))
                    b.append(contentsOf: c.labelText)
                    b.append(contentsOf: counter.suffix)
                    SampleText.appendInt(counter.count.load(ordering: .relaxed), to: &b)
                    b.append(UInt8(ascii: "\n"))
                }
            }
        }

        // The last exit, once there was one.
        if exits.contains(where: { $0 != nil }) {
            Self.family(.lastExitCode, om, &b)
            for (i, c) in cells.enumerated() { if let e = exits[i] { Self.line(Self.lastExitCode, c, &b) { SampleText.appendGauge(e.code, to: &$0) } } }
            Self.family(.lastExitTime, om, &b)
            for (i, c) in cells.enumerated() { if let e = exits[i] { Self.line(Self.lastExitTime, c, &b) { SampleText.appendGauge(e.time, to: &$0) } } }
        }

        // Resources, from the unit's first sample on.
        if resources.contains(where: { $0 != nil }) {
            Self.family(.cpu, om, &b)
            for (i, c) in cells.enumerated() {
                guard let r = resources[i] else { continue }
                Self.line(Self.cpu, c, Self.modeUser, &b) { SampleText.appendCounter(int: 0, double: r.cpuUser, to: &$0) }
                Self.line(Self.cpu, c, Self.modeSystem, &b) { SampleText.appendCounter(int: 0, double: r.cpuSystem, to: &$0) }
            }
            let gauges: [(Descriptor, [UInt8])] = [(.resident, Self.resident), (.processes, Self.processes),
                                                   (.threads, Self.threads), (.openFDs, Self.openFDs)]
            for (k, (descriptor, name)) in gauges.enumerated() {
                Self.family(descriptor, om, &b)
                for (i, c) in cells.enumerated() {
                    guard let r = resources[i] else { continue }
                    let v = switch k {
                    case 0: r.resident
                    case 1: r.processes
                    case 2: r.threads
                    default: r.fds
                    }
                    Self.line(name, c, &b) { SampleText.appendGauge(v, to: &$0) }
                }
            }
        }

        // "Now": the states of the units the supervisor has (a slot removed by a scale-down has none).
        guard let status else { return }
        rows.removeAll(keepingCapacity: true)
        for s in status {
            let c = cell(s.unit)
            let delay = s.state == .backoff ? c.restartDelayNanos.load(ordering: .relaxed) : 0
            rows.append(Row(cell: c, state: s.state, restarts: s.restarts, delayNanos: delay))
        }
        guard !rows.isEmpty else { return }
        Self.family(.up, om, &b)
        for r in rows { Self.line(Self.up, r.cell, &b) { Self.appendFlag(r.state == .running, &$0) } }
        Self.family(.state, om, &b)
        for r in rows {
            for (i, state) in ProgramState.allCases.enumerated() {
                Self.line(Self.state, r.cell, Self.stateSuffix[i], &b) { Self.appendFlag(r.state == state, &$0) }
            }
        }
        Self.family(.givenUp, om, &b)
        for r in rows { Self.line(Self.givenUp, r.cell, &b) { Self.appendFlag(r.state == .failed, &$0) } }
        Self.family(.crashLooping, om, &b)
        for r in rows {
            let restarting = r.state == .backoff || r.state == .starting || r.state == .running
            Self.line(Self.crashLooping, r.cell, &b) { Self.appendFlag(restarting && r.restarts >= Self.crashLoopRestarts, &$0) }
        }
        Self.family(.restartDelay, om, &b)
        for r in rows { Self.line(Self.restartDelay, r.cell, &b) { SampleText.appendGauge(Double(r.delayNanos) / 1e9, to: &$0) } }
    }

    // MARK: Lines

    /// `name{labels} VALUE\n`.
    @inline(__always)
    private static func line(_ name: [UInt8], _ cell: UnitCell, _ b: inout [UInt8], value: (inout [UInt8]) -> Void) {
        b.append(contentsOf: name)
        b.append(UInt8(ascii: "{"))
        b.append(contentsOf: cell.labelText)
        b.append(UInt8(ascii: "}"))
        b.append(UInt8(ascii: " "))
        value(&b)
        b.append(UInt8(ascii: "\n"))
    }

    /// `name{labels,extra="v"} VALUE\n`; `suffix` is `,extra="v"} `.
    @inline(__always)
    private static func line(_ name: [UInt8], _ cell: UnitCell, _ suffix: [UInt8], _ b: inout [UInt8], value: (inout [UInt8]) -> Void) {
        b.append(contentsOf: name)
        b.append(UInt8(ascii: "{"))
        b.append(contentsOf: cell.labelText)
        b.append(contentsOf: suffix)
        value(&b)
        b.append(UInt8(ascii: "\n"))
    }

    /// A one-hot gauge: `1.0` or `0.0`.
    @inline(__always)
    private static func appendFlag(_ on: Bool, _ b: inout [UInt8]) {
        b.append(on ? UInt8(ascii: "1") : UInt8(ascii: "0"))
        b.append(UInt8(ascii: "."))
        b.append(UInt8(ascii: "0"))
    }

    // MARK: Families

    /// A family this renderer writes: its name and type.
    struct Descriptor {
        let name: String
        let type: String
        static let starts = Descriptor(name: MetricName.starts, type: "counter")
        static let restarts = Descriptor(name: MetricName.restarts, type: "counter")
        static let spawnFailures = Descriptor(name: MetricName.spawnFailures, type: "counter")
        static let lastExitCode = Descriptor(name: MetricName.lastExitCode, type: "gauge")
        static let lastExitTime = Descriptor(name: MetricName.lastExitTime, type: "gauge")
        static let cpu = Descriptor(name: MetricName.cpu, type: "counter")
        static let resident = Descriptor(name: MetricName.resident, type: "gauge")
        static let processes = Descriptor(name: MetricName.processes, type: "gauge")
        static let threads = Descriptor(name: MetricName.threads, type: "gauge")
        static let openFDs = Descriptor(name: MetricName.openFDs, type: "gauge")
        static let up = Descriptor(name: MetricName.up, type: "gauge")
        static let state = Descriptor(name: MetricName.state, type: "gauge")
        static let givenUp = Descriptor(name: MetricName.givenUp, type: "gauge")
        static let crashLooping = Descriptor(name: MetricName.crashLooping, type: "gauge")
        static let restartDelay = Descriptor(name: MetricName.restartDelay, type: "gauge")
    }

    private static func descriptor(_ family: UnitCell.Family) -> Descriptor { Descriptor(name: family.name, type: "counter") }

    /// The `# HELP` and `# TYPE` lines, as swift-prometheus writes them (help with `\` escaped); in
    /// OpenMetrics a counter family is named without `_total` (as `OpenMetrics.convert` does).
    private static func family(_ d: Descriptor, _ openMetrics: Bool, _ b: inout [UInt8]) {
        let family = openMetrics && d.type == "counter" && d.name.hasSuffix("_total") ? String(d.name.dropLast(6)) : d.name
        if let help = MetricHelp.text[d.name], !help.isEmpty {
            b.append(contentsOf: "# HELP ".utf8)
            b.append(contentsOf: family.utf8)
            b.append(UInt8(ascii: " "))
            for byte in help.utf8 {
                if byte == UInt8(ascii: "\\") { b.append(contentsOf: #"\\"#.utf8) } else { b.append(byte) }
            }
            b.append(UInt8(ascii: "\n"))
        }
        b.append(contentsOf: "# TYPE ".utf8)
        b.append(contentsOf: family.utf8)
        b.append(UInt8(ascii: " "))
        b.append(contentsOf: d.type.utf8)
        b.append(UInt8(ascii: "\n"))
    }

    private static func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }
    private static let starts = bytes(MetricName.starts)
    private static let restarts = bytes(MetricName.restarts)
    private static let spawnFailures = bytes(MetricName.spawnFailures)
    private static let lastExitCode = bytes(MetricName.lastExitCode)
    private static let lastExitTime = bytes(MetricName.lastExitTime)
    private static let cpu = bytes(MetricName.cpu)
    private static let resident = bytes(MetricName.resident)
    private static let processes = bytes(MetricName.processes)
    private static let threads = bytes(MetricName.threads)
    private static let openFDs = bytes(MetricName.openFDs)
    private static let up = bytes(MetricName.up)
    private static let state = bytes(MetricName.state)
    private static let givenUp = bytes(MetricName.givenUp)
    private static let crashLooping = bytes(MetricName.crashLooping)
    private static let restartDelay = bytes(MetricName.restartDelay)
    private static let modeUser = bytes(#",mode="user"} "#)
    private static let modeSystem = bytes(#",mode="system"} "#)
    /// `,state="starting"} ` ... in `ProgramState.allCases` order.
    private static let stateSuffix: [[UInt8]] = ProgramState.allCases.map { bytes(",state=\"\($0.rawValue)\"} ") }
}
