#if canImport(Glibc)
import Glibc
#endif
import HistCore
import HistModel
import HistStore
import Prometheus
import Synchronization

/// histd's Prometheus metrics. It is a `HistorySink`: the histd executable tees the engine's,
/// the sampler's and the scanner's facts into it beside the history writer, and it turns them into
/// counters as they happen (so a counter never goes down when retention prunes the database).
/// Gauges that describe "now" (state, up, pool sizes, writer queue) are read at scrape time from
/// the supervisor and the writer attached with `attach(supervisor:writer:pools:)`.
///
/// Cost on the engine thread: `record(_ event:)` looks up the unit's cell under a short lock and
/// increments atomics. Nothing else: no I/O, no formatting, no allocation once a unit's counters exist.
/// The per-unit series are rendered from the cells by `UnitExposition`; the histd-wide ones by the
/// swift-prometheus registry.
public final class SupervisorMetrics: HistorySink, Sendable {
    /// The registry that renders the exposition.
    public let registry = PrometheusCollectorRegistry()
    private let cells = Mutex<CellTable>(CellTable())
    /// Instances whose `recycled` (max_age) event came before their end: that end counts as `recycled`.
    private let recycling = Mutex<Set<InstanceID>>([])
    let attached = Mutex<Attached?>(nil)
    let resources: Mutex<ResourceTracker>
    let scrape: Mutex<ScrapeState>
    let system: SystemGauges
    let controlRequests: ControlRequestCounters
    let commitHistogram: DurationHistogram
    let sampleHistogram: DurationHistogram

    /// Bucket bounds for the commit and sample histograms: 0.5 ms to 5 s.
    static let durationBuckets: [Duration] = [
        .microseconds(500), .milliseconds(1), .milliseconds(2.5), .milliseconds(5), .milliseconds(10), .milliseconds(25),
        .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2.5), .seconds(5),
    ]

    /// - Parameters:
    ///   - programs: plain programs (their counters exist from the start, at 0).
    ///   - pools: pools (a counter set per worker slot 0..<max_workers, at 0).
    ///   - version: for `histd_build_info{version}`.
    ///   - startTime: for `histd_start_time_seconds`.
    public init(programs: [String], pools: [PoolSpec], version: String, startTime: Timestamp = .now()) {
        let registry = self.registry
        resources = Mutex(ResourceTracker())
        scrape = Mutex(ScrapeState(registry: registry, pools: pools.map(\.name)))
        system = SystemGauges(registry: registry)
        controlRequests = ControlRequestCounters(registry: registry)
        commitHistogram = registry.durationHistogram(MetricName.commitSeconds, buckets: Self.durationBuckets)
        sampleHistogram = registry.durationHistogram(MetricName.sampleSeconds, buckets: Self.durationBuckets)
        registry.gauge(MetricName.buildInfo, [("version", version)]).set(to: 1)
        registry.gauge(MetricName.startTime)
            .set(to: Double(startTime.milliseconds) / 1000)
        var all = programs.map { UnitCell(key: UnitKey(program: $0)) }
        for pool in pools {
            for w in 0..<pool.maxWorkers { all.append(UnitCell(key: UnitKey(program: pool.name, workerIndex: w))) }
        }
        all.sort { $0.key < $1.key }
        cells.withLock { table in
            for c in all { table.add(c) }
        }
    }

    /// Every unit's cell: by key for lookups, and as a list in unit order for the scrape.
    struct CellTable {
        var byKey: [UnitKey: UnitCell] = [:]
        /// Sorted by unit; a new cell (rare: a pool slot beyond max_workers) re-sorts it.
        var list: [UnitCell] = []
        mutating func add(_ c: UnitCell) {
            byKey[c.key] = c
            if let last = list.last, c.key < last.key {
                list.append(c)
                list.sort { $0.key < $1.key }
            } else {
                list.append(c)
            }
        }
    }

    /// The cell of a unit, made on first use (a pool slot beyond max_workers during a recycle overlap).
    func cell(_ program: String, _ worker: Int?) -> UnitCell { cell(UnitKey(program: program, workerIndex: worker)) }

    func cell(_ key: UnitKey) -> UnitCell {
        cells.withLock { table in
            if let c = table.byKey[key] { return c }
            let c = UnitCell(key: key)
            table.add(c)
            return c
        }
    }

    /// Every unit's cell in unit order (shared storage: no copy until a cell is added).
    func allCells() -> [UnitCell] { cells.withLock { $0.list } }

    // MARK: HistorySink

    public func record(_ event: HistEvent) {
        switch event.payload {
        case .started(let info):
            cell(info.program, info.workerIndex).starts.add(1, ordering: .relaxed)
        case .ended(let end):
            let c = cell(end.instance.program, end.instance.workerIndex)
            // Only pool workers are recycled; a plain program's exit takes no second lock.
            let wasRecycling = end.instance.workerIndex != nil && recycling.withLock { $0.remove(end.instance.id) != nil }
            // A pool worker's clean exit is a recycle (histd replaces it at once, without backoff).
            let recycled = wasRecycling || (end.instance.workerIndex != nil && end.classification == .clean)
            c.increment(.exits, recycled ? "recycled" : end.classification.rawValue)
            // An end an operator caused (a signal through histctl) is not a crash: the reports' rule.
            if end.classification == .crash && event.operatorAction == nil {
                c.increment(.crashes, end.status.signal.map(SignalName.name) ?? "exit_code")
            }
            let code: Int32 = switch end.status {
            case .exited(let code): code
            case .signaled(let signal, _): 128 + signal
            }
            c.setLastExit(code: Double(code), time: Double(end.endedAt.milliseconds) / 1000)
        case .restartScheduled(_, let delay, _, let worker):
            let c = cell(event.program, worker)
            c.restarts.add(1, ordering: .relaxed)
            c.restartDelayNanos.store(Int64(delay.components.seconds) * 1_000_000_000 + delay.components.attoseconds / 1_000_000_000,
                                      ordering: .relaxed)
        case .limitBreach(let instance, let limit, _, _, _, _):
            cell(event.program, instance?.workerIndex).increment(.breaches, limit.rawValue)
        case .spawnFailed(_, _, _, let worker):
            cell(event.program, worker).spawnFailures.add(1, ordering: .relaxed)
        case .recycled(let instance, let reason):
            // exit0: the end came first and was counted as recycled above. max_age: the end follows.
            if reason != .exit0 { recycling.withLock { _ = $0.insert(instance.id) } }
        case .operatorAction(let action):
            // Every control request, refused ones too (the control server records each as an event).
            countControlRequest(command: action.action, result: action.result)
        case .gaveUp, .stopRequested, .killed, .scaled, .leftover, .swept:
            break
        }
    }

    public func record(_ sweep: SnapshotSweep) {
        if sweep.duration > .zero { sampleHistogram.record(sweep.duration) }
        let live = attached.withLock { $0 }?.supervisor.liveInstances() ?? []
        var units: [InstanceID: UnitKey] = [:]
        units.reserveCapacity(live.count)
        for info in live { units[info.id] = UnitKey(program: info.program, workerIndex: info.workerIndex) }
        resources.withLock { $0.apply(sweep, units: units, cell: { self.cell($0) }) }
    }

    public func record(_ scan: ScanReport) { system.apply(scan) }

    /// The history writer's commit observer (`HistoryWriter.Options.onCommit`).
    public var commitObserver: @Sendable (Duration) -> Void {
        { [commitHistogram] in commitHistogram.record($0) }
    }
}

/// A sink that hands every fact to each of its sinks in turn (the writer first).
public struct TeeSink: HistorySink {
    let sinks: [any HistorySink]
    public init(_ sinks: [any HistorySink]) { self.sinks = sinks }
    public func record(_ event: HistEvent) { for s in sinks { s.record(event) } }
    public func record(_ sweep: SnapshotSweep) { for s in sinks { s.record(sweep) } }
    public func record(_ scan: ScanReport) { for s in sinks { s.record(scan) } }
}
