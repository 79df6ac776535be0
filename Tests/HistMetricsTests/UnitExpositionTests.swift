import HistCore
import HistModel
import Prometheus
import Testing
@testable import HistMetrics

/// The per-unit series are rendered by `UnitExposition`, not by swift-prometheus's `emit`. These
/// tests make the same series in a swift-prometheus registry (what the scrape did before) and
/// compare the two texts family by family: same HELP and TYPE lines, same sample lines.
@Suite struct UnitExpositionTests {
    /// A fleet with every kind of per-unit series: counters, labeled counters, exits, resources,
    /// states, a pool, and a name that needs escaping.
    static func fleet() -> (SupervisorMetrics, [UnitStatus]) {
        let names = ["web", "batch", #"odd"name\x"#, "idle"]
        let pool = PoolSpec(worker: ProgramSpec(name: "jobs", command: ["/bin/true"]), minWorkers: 1, maxWorkers: 3)
        let metrics = SupervisorMetrics(programs: names, pools: [pool], version: "t")
        func info(_ program: String, _ worker: Int?, _ id: InstanceID) -> InstanceInfo {
            InstanceInfo(id: id, program: program, workerIndex: worker, identity: ProcessIdentity(pid: Int32(1000 + id), startTicks: 5),
                         startedAt: Timestamp(milliseconds: 1_764_614_400_000 + Int64(id)))
        }
        let web = info("web", nil, 1), odd = info(#"odd"name\x"#, nil, 2), job = info("jobs", 1, 3)
        for i in [web, odd, job] { metrics.record(HistEvent(program: i.program, payload: .started(i))) }
        metrics.record(HistEvent(program: "web", payload: .ended(InstanceEnd(instance: web, endedAt: Timestamp(milliseconds: 1_764_614_401_234),
            status: .signaled(signal: 11, coreDumped: true), classification: .crash, uptime: .seconds(1), stderrTail: ""))))
        metrics.record(HistEvent(program: "web", payload: .restartScheduled(instance: web, delay: .milliseconds(250), attempt: 1, workerIndex: nil)))
        metrics.record(HistEvent(program: "batch", payload: .spawnFailed(errno: 2, step: "execve", reason: "No such file", workerIndex: nil)))
        metrics.record(HistEvent(program: "jobs", payload: .ended(InstanceEnd(instance: job, endedAt: Timestamp(milliseconds: 1_764_614_402_000),
            status: .exited(code: 0), classification: .clean, uptime: .seconds(2), stderrTail: ""))))
        metrics.record(HistEvent(program: #"odd"name\x"#, payload: .limitBreach(instance: odd, limit: .maxMemory, observed: 200, threshold: 100, action: .stop)))
        // Resources: fractional CPU seconds, large byte counts, a unit sampled then cleared.
        let sweep = SnapshotSweep(time: .now(), samples: [
            InstanceSample(instance: 1, state: "S", utimeTicks: 1234, stimeTicks: 7, rssBytes: 123_456_789_012, vszBytes: 0, threads: 9, fds: 17, processes: 3),
            InstanceSample(instance: 3, state: "S", utimeTicks: 0, stimeTicks: 0, rssBytes: 4096, vszBytes: 0, threads: 1, fds: -1, processes: 1),
        ])
        let units: [InstanceID: UnitKey] = [1: UnitKey(program: "web"), 3: UnitKey(program: "jobs", workerIndex: 1)]
        metrics.resources.withLock { $0.apply(sweep, units: units, cell: { metrics.cell($0) }) }
        metrics.resources.withLock { $0.apply(SnapshotSweep(time: .now(), samples: [sweep.samples[0]]), units: units, cell: { metrics.cell($0) }) }
        let status = [
            UnitStatus(unit: UnitKey(program: "web"), state: .backoff, restarts: 4, instance: nil),
            UnitStatus(unit: UnitKey(program: "batch"), state: .failed, restarts: 3, instance: nil),
            UnitStatus(unit: UnitKey(program: #"odd"name\x"#), state: .running, restarts: 0, instance: odd),
            UnitStatus(unit: UnitKey(program: "idle"), state: .stopped, restarts: 0, instance: nil),
            UnitStatus(unit: UnitKey(program: "jobs", workerIndex: 0), state: .starting, restarts: 3, instance: nil),
            UnitStatus(unit: UnitKey(program: "jobs", workerIndex: 1), state: .running, restarts: 0, instance: job),
        ]
        return (metrics, status)
    }

    /// The same series in a swift-prometheus registry, set the way the scrape used to set them.
    static func reference(_ metrics: SupervisorMetrics, _ status: [UnitStatus]) -> [UInt8] {
        let r = PrometheusCollectorRegistry()
        for c in metrics.allCells() {
            r.counter(MetricName.starts, c.labels).increment(by: c.starts.load(ordering: .relaxed))
            r.counter(MetricName.restarts, c.labels).increment(by: c.restarts.load(ordering: .relaxed))
            r.counter(MetricName.spawnFailures, c.labels).increment(by: c.spawnFailures.load(ordering: .relaxed))
            for l in c.labeledCounters {
                r.counter(l.family.name, c.labels + [(l.family.label, l.value)]).increment(by: l.count.load(ordering: .relaxed))
            }
            if let e = c.lastExitValues {
                r.gauge(MetricName.lastExitCode, c.labels).set(to: e.code)
                r.gauge(MetricName.lastExitTime, c.labels).set(to: e.time)
            }
            if let v = c.resources.withLock({ $0 }) {
                let user = r.counter(MetricName.cpu, c.labels + [("mode", "user")]), system = r.counter(MetricName.cpu, c.labels + [("mode", "system")])
                if v.cpuUser > 0 { user.increment(by: v.cpuUser) }
                if v.cpuSystem > 0 { system.increment(by: v.cpuSystem) }
                r.gauge(MetricName.resident, c.labels).set(to: v.resident)
                r.gauge(MetricName.processes, c.labels).set(to: v.processes)
                r.gauge(MetricName.threads, c.labels).set(to: v.threads)
                r.gauge(MetricName.openFDs, c.labels).set(to: v.fds)
            }
        }
        for s in status {
            let c = metrics.cell(s.unit)
            r.gauge(MetricName.up, c.labels).set(to: s.state == .running ? 1 : 0)
            for state in ProgramState.allCases { r.gauge(MetricName.state, c.labels + [("state", state.rawValue)]).set(to: s.state == state ? 1 : 0) }
            r.gauge(MetricName.givenUp, c.labels).set(to: s.state == .failed ? 1 : 0)
            let restarting = s.state == .backoff || s.state == .starting || s.state == .running
            r.gauge(MetricName.crashLooping, c.labels).set(to: restarting && s.restarts >= 3 ? 1 : 0)
            let delay = s.state == .backoff ? c.restartDelayNanos.load(ordering: .relaxed) : 0
            r.gauge(MetricName.restartDelay, c.labels).set(to: Double(delay) / 1e9)
        }
        var b: [UInt8] = []
        r.emit(into: &b)
        return b
    }

    struct Family: Equatable, CustomStringConvertible {
        var help: String?
        var type: String?
        var samples: [String] = []
        var description: String { "\(help ?? "-") | \(type ?? "-") | \(samples.sorted())" }
    }

    /// Families by name; each name must head exactly one block (families are contiguous).
    static func families(_ bytes: [UInt8]) -> [String: Family] {
        var out: [String: Family] = [:]
        var current = ""
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") {
            let parts = line.split(separator: " ", maxSplits: 3)
            if line.hasPrefix("# HELP ") {
                current = String(parts[2])
                #expect(out[current] == nil, "family \(current) appears twice")
                out[current, default: Family()].help = String(line)
            } else if line.hasPrefix("# TYPE ") {
                if String(parts[2]) != current {
                    current = String(parts[2])
                    #expect(out[current] == nil, "family \(current) appears twice")
                }
                out[current, default: Family()].type = String(line)
            } else if line.hasPrefix("#") {
                continue
            } else {
                out[current, default: Family()].samples.append(String(line))
            }
        }
        for key in out.keys { out[key]!.samples.sort() }
        return out
    }

    @Test(arguments: [ExpositionFormat.prometheus, .openMetrics])
    func sameTextAsSwiftPrometheus(_ format: ExpositionFormat) throws {
        let (metrics, status) = Self.fleet()
        var ours: [UInt8] = []
        var renderer = UnitExposition()
        renderer.render(into: &ours, format: format, cells: metrics.allCells(), status: status, cell: { metrics.cell($0) })
        var theirs = Self.reference(metrics, status)
        if format == .openMetrics { theirs = OpenMetrics.convert(theirs, end: false) }
        let a = Self.families(ours), b = Self.families(theirs)
        #expect(a.keys.sorted() == b.keys.sorted())
        for name in b.keys.sorted() { #expect(a[name] == b[name], "\(name)") }
        #expect(ours.count == theirs.count, "same bytes, other order")
        // The fleet covers what it claims (else the comparison would prove little).
        let text = String(decoding: ours, as: UTF8.self)
        for needle in [#"reason="SIGSEGV""#, #"limit="max_memory_mb""#, #"program="odd\"name\\x""#, #"worker="1""#, #"mode="user""#,
                       "histd_program_last_exit_timestamp_seconds", #"state="backoff"} 1.0"#, "123456789012.0",
                       #"histd_program_restart_delay_seconds{program="web"} 0.25"#, #"histd_program_crash_looping{program="jobs",worker="0"} 1.0"#] {
            #expect(text.contains(needle), "\(needle) missing")
        }
    }

    /// A whole scrape: every family once (the registry's and ours), OpenMetrics ends in `# EOF`.
    @Test func wholeScrapeHasEachFamilyOnce() {
        let (metrics, _) = Self.fleet()
        metrics.countControlRequest(command: "status", result: "ok")
        for format in [ExpositionFormat.prometheus, .openMetrics] {
            let text = metrics.render(format)
            let families = Self.families(text)
            #expect(families[MetricName.buildInfo] != nil || families["histd_build"] != nil)
            #expect(families[format == .openMetrics ? "histd_program_starts" : MetricName.starts] != nil)
            let s = String(decoding: text, as: UTF8.self)
            #expect(s.hasSuffix("# EOF\n") == (format == .openMetrics))
            #expect(s.components(separatedBy: "# EOF").count == (format == .openMetrics ? 2 : 1))
        }
    }
}

/// `SampleText` writes what string interpolation writes.
@Suite struct SampleTextTests {
    static let doubles: [Double] = [0, -0.0, 1, 2, 9, 10, 139, 0.25, 0.5, 1e-5, 0.0001, 12.34, 1_764_614_401.234, 123_456_789_012,
                                    999_999_999_999_999, 1e15, 1e15 + 1, 9_007_199_254_740_991, 9_007_199_254_740_992, 9_999_999_999_999_998,
                                    1e16, 2e16, 1.5e300, -1, -12.5, .infinity, -.infinity, .nan, .leastNonzeroMagnitude, .greatestFiniteMagnitude]

    @Test func gaugesMatchDescription() {
        var rng = SystemRandomNumberGenerator()
        var values = Self.doubles
        for _ in 0..<20_000 {
            values.append(Double(UInt64.random(in: 0..<(1 << 53), using: &rng)))
            values.append(Double(Int.random(in: 0..<100_000, using: &rng)))
            values.append(Double.random(in: 0..<1e12, using: &rng))
        }
        for v in values {
            var b: [UInt8] = []
            SampleText.appendGauge(v, to: &b)
            #expect(String(decoding: b, as: UTF8.self) == "\(v)", "\(v)")
        }
    }

    @Test func integersMatchDescription() {
        var values: [Int64] = [0, 1, 9, 10, 99, 100, 12345, .max, .min, -1, -10, 1_000_000_000_000]
        for _ in 0..<10_000 { values.append(Int64.random(in: .min ... .max)) }
        for v in values {
            var b: [UInt8] = []
            SampleText.appendInt(v, to: &b)
            #expect(String(decoding: b, as: UTF8.self) == "\(v)")
        }
    }

    /// Counters as swift-prometheus's Counter writes them: integer while only integers were added.
    @Test(arguments: [(Int64(0), 0.0), (5, 0), (0, 0.01), (0, 12.37), (3, 0.5)])
    func countersMatchSwiftPrometheus(_ int: Int64, _ double: Double) {
        let r = PrometheusCollectorRegistry()
        let c = r.makeCounter(name: "c")
        c.increment(by: int)
        if double > 0 { c.increment(by: double) }
        var theirs: [UInt8] = []
        r.emit(into: &theirs)
        var ours = Array("# TYPE c counter\nc ".utf8)
        SampleText.appendCounter(int: int, double: double, to: &ours)
        ours.append(UInt8(ascii: "\n"))
        #expect(String(decoding: ours, as: UTF8.self) == String(decoding: theirs, as: UTF8.self))
    }
}
