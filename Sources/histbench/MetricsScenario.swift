import Foundation
import HistTestSupport
import HistCore
import HistMetrics
import HistModel
import HistProc
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// `metrics`: (1) one scrape of `SupervisorMetrics` with N real programs (a real in-process
/// Supervisor running N `sleep`s, one real /proc sweep and a real system scan fed in, and an exit
/// per program so every per-program series exists), in both formats (target <= 5 ms at N = 500);
/// (2) what the engine pays per event to feed the metrics; (3) restart latency through a real histd
/// with metrics off, then on and scraped over HTTP every 100 ms.
enum MetricsScenario {
    static func run(_ ws: Workspace, programs n: Int, trials: Int, restartTrials: Int, scrapeOnly: Bool = false) throws -> ScenarioResult {
        var r = ScenarioResult("metrics")
        r.info["loadavg_before"] = loadAverage()
        try scrape(&r, n: n, trials: trials, dir: try ws.runDirectory("metrics-scrape"))
        r.info["loadavg_after_scrape"] = loadAverage()
        if scrapeOnly { return r }

        let off = try RestartScenario.run(ws, trials: restartTrials, name: "restart-metrics-off")
        r.info["loadavg_after_restart_off"] = loadAverage()
        let port = try LoopbackHTTP.freePort()
        let scrapes = Counter()
        let on = try RestartScenario.run(ws, trials: restartTrials, name: "restart-metrics-on",
                                         supervisorExtra: ["metrics_listen = \"127.0.0.1:\(port)\""]) { done in
            while !done() {
                let t0 = monoNow()
                if (try? LoopbackHTTP.tcp(port: port, timeout: 5)) != nil { scrapes.add(Double(monoNow() - t0) / 1e6) }
                usleep(100_000)
            }
        }
        r.info["loadavg_after_restart_on"] = loadAverage()
        for (label, result) in [("metrics off", off), ("metrics on, scraped every 100 ms", on)] {
            if var m = result.measurements.first {
                m.name = "restart E->S, \(label)"
                r.measurements.append(m)
            }
        }
        r.add("HTTP scrape during the restart run (1 program)", unit: "ms", samples: scrapes.values)
        r.info["http_scrapes"] = "\(scrapes.values.count)"
        return r
    }

    /// Renders N times and records each duration; also the engine's per-event feeding cost.
    static func scrape(_ r: inout ScenarioResult, n: Int, trials: Int, dir: String) throws {
        let programs = (0..<n).map { i in
            ProgramSpec(name: String(format: "p%04d", i), command: ["/bin/sleep", "100000"], restart: .always)
        }
        let metrics = SupervisorMetrics(programs: programs.map(\.name), pools: [], version: "bench")
        var logger = Logger(label: "histbench")
        logger.logLevel = .error
        let supervisor = try Supervisor(programs: programs, supervisor: SupervisorSpec(logDir: dir + "/logs", shutdownTimeout: .seconds(10)),
                                        sink: metrics, logger: logger,
                                        options: SupervisorOptions(reapScope: .supervisedOnly, handleSignals: false))
        metrics.attach(supervisor: supervisor, writer: nil)
        try supervisor.start()
        defer {
            supervisor.post(.shutdown)
            let deadline = monoNow() + 30_000_000_000
            while !supervisor.isFinished && monoNow() < deadline { usleep(10_000) }
        }
        let t0 = monoNow()
        while supervisor.liveInstances().count < n {
            guard monoNow() - t0 < 60_000_000_000 else { throw HistdRun.Failure(description: "only \(supervisor.liveInstances().count) of \(n) started") }
            usleep(10_000)
        }
        let live = supervisor.liveInstances()
        let sampler = TreeSampler()
        let samples = sampler.sample(live.map { (instance: $0.id, identity: $0.identity) })
        metrics.record(SnapshotSweep(time: .now(), samples: samples, duration: .milliseconds(1)))
        metrics.record(SystemScanner(procfs: ProcFS(), orphanIgnore: []).scan())
        // One (synthetic) crash per program: the exits, crashes and last-exit series exist, as in a fleet that has run a while.
        for info in live {
            metrics.record(HistEvent(program: info.program, payload: .ended(InstanceEnd(
                instance: info, endedAt: .now(), status: .exited(code: 1), classification: .crash, uptime: .seconds(1), stderrTail: ""))))
        }

        var plain: [Double] = [], open: [Double] = [], emitOnly: [Double] = []
        var bytes = 0, series = 0
        for _ in 0..<(trials + 2) {
            var t = monoNow()
            let text = metrics.render(.prometheus)
            plain.append(Double(monoNow() - t) / 1e6)
            t = monoNow()
            _ = metrics.render(.openMetrics)
            open.append(Double(monoNow() - t) / 1e6)
            var buffer: [UInt8] = []
            buffer.reserveCapacity(text.count)
            t = monoNow()
            metrics.registry.emit(into: &buffer)
            emitOnly.append(Double(monoNow() - t) / 1e6)
            bytes = text.count
            series = text.split(separator: UInt8(ascii: "\n")).filter { $0.first != UInt8(ascii: "#") }.count
        }
        r.add("scrape, \(n) programs, Prometheus text", unit: "ms", samples: Array(plain.dropFirst(2)), limit: 5, target: "<= 5 ms")
        r.add("scrape, \(n) programs, OpenMetrics", unit: "ms", samples: Array(open.dropFirst(2)), limit: 5, target: "<= 5 ms")
        r.add("  of which swift-prometheus emit (histd-wide families only)", unit: "ms", samples: Array(emitOnly.dropFirst(2)))
        r.info["exposition"] = "\(bytes) bytes, \(series) series"

        // Feeding: what the engine thread pays per event (start + restart_scheduled + exit of one program).
        let info = live[0]
        let events = [
            HistEvent(program: info.program, payload: .started(info)),
            HistEvent(program: info.program, payload: .restartScheduled(instance: info, delay: .milliseconds(100), attempt: 1, workerIndex: nil)),
            HistEvent(program: info.program, payload: .ended(InstanceEnd(instance: info, endedAt: .now(), status: .exited(code: 1),
                                                                        classification: .crash, uptime: .seconds(1), stderrTail: ""))),
        ]
        var perEvent: [Double] = []
        for _ in 0..<5 {
            let rounds = 100_000
            let t = monoNow()
            for _ in 0..<rounds { for e in events { metrics.record(e) } }
            perEvent.append(Double(monoNow() - t) / Double(rounds * events.count))
        }
        r.add("feeding cost per event (engine thread)", unit: "ns", samples: perEvent)
    }

    static func loadAverage() -> String {
        ((try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8)) ?? "?").split(separator: " ").prefix(3).joined(separator: " ")
    }

    final class Counter: @unchecked Sendable {
        private let lock = NSLock()
        private var samples: [Double] = []
        func add(_ v: Double) { lock.lock(); samples.append(v); lock.unlock() }
        var values: [Double] { lock.lock(); defer { lock.unlock() }; return samples }
    }
}
