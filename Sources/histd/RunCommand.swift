import ArgumentParser
import HistConfig
import HistCore
import HistMetrics
import HistModel
import HistProc
import HistStore
import Logging

#if canImport(Glibc)
import Glibc
#endif

extension Histd {
    /// `histd run`: supervise the programs of a config file until SIGTERM/SIGINT, recording everything.
    struct Run: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Supervise the programs of a config file until SIGTERM/SIGINT, recording every fact in SQLite.",
            discussion: """
            Starts every program (autostart = true) in descending stop_order, restarts them under their
            restart policy and backoff, samples them every snapshot_interval, scans for zombies and
            orphans every scan_interval, and records it all in the history database. On SIGTERM or SIGINT
            it stops programs group by group in ascending stop_order (stop signal, then SIGKILL after
            stop_timeout) and exits 0 once nothing it started is left.

            If an earlier histd died without stopping (kill -9, power loss), this start closes its run as
            unclean and stops the processes it left running (unless [supervisor] stop_leftovers = false),
            so that nothing runs unsupervised twice.

            With [supervisor] metrics_listen (e.g. "127.0.0.1:9464", or a unix socket path) it serves
            Prometheus metrics at GET /metrics (OpenMetrics when the scraper asks), and with
            metrics_textfile it rewrites that file every metrics_interval (default 15s) for
            node_exporter's textfile collector. Every metric is in docs/METRICS.md. An address that
            cannot be used stops histd before anything starts (exit 1).

            The database is, in order: --db, $HISTD_DB, the config's db, then the default
            (/var/lib/histd/history.db for root, ~/.local/state/histd/history.db otherwise).

            Example:
              histd run --config /etc/histd/histd.toml

            Exit codes: 0 after a clean shutdown; 1 when the engine or the database cannot start; 2 for a bad config.
            """)
        @Option(help: "The TOML config file.") var config: String
        @Option(help: "History database path (overrides $HISTD_DB and the config's db).") var db: String?
        @Option(help: "Log level on stderr: trace, debug, info, notice, warning, error.") var logLevel: String = "info"

        func validate() throws {
            guard Logger.Level(rawValue: logLevel) != nil else {
                throw ValidationError("--log-level must be one of: \(Logger.Level.allCases.map(\.rawValue).joined(separator: ", "))")
            }
        }

        func run() async throws {
            // Before anything else: block the signals the engine reads (threads inherit the mask) and
            // become a subreaper, so orphaned descendants come to histd.
            do { try Supervisor.prepareProcess() } catch {
                printError("histd: \(error)")
                throw ExitCode(1)
            }
            let loaded: HistConfig
            do { loaded = try ConfigLoader.load(path: config) } catch {
                for problem in error.problems { printError(problem.description) }
                printError("\(error.problems.count) problem(s); nothing was started.")
                throw ExitCode(2)
            }
            var logger = Logger(label: "histd") { StreamLogHandler.standardError(label: $0) }
            logger.logLevel = Logger.Level(rawValue: logLevel) ?? .info

            // Metrics before the database: an address that cannot be used changes nothing.
            let metricsSpec = loaded.supervisor.metrics
            let metrics = metricsSpec.isOff ? nil
                : SupervisorMetrics(programs: loaded.programs.map(\.name), pools: loaded.pools, version: HistdVersion.string)
            var server: MetricsServer?
            if let metrics, let listen = metricsSpec.listen {
                do {
                    server = try await MetricsServer.start(listen, metrics: metrics)
                    logger.notice("metrics: serving GET /metrics on \(listen)")
                } catch {
                    printError("histd: metrics_listen: \(error)")
                    throw ExitCode(1)
                }
            }

            let location = DatabaseLocation.resolve(flag: db, environment: currentEnvironment(), configDB: loaded.supervisor.db)
            let recorder: Recorder
            do {
                recorder = try Recorder.open(path: location.path, config: loaded, logger: logger, onCommit: metrics?.commitObserver)
            } catch {
                printError("histd: cannot use the history database \(location.path) (from \(location.source.rawValue)): \(error)")
                await server?.stop()
                throw ExitCode(1)
            }
            // The writer first: metrics only count, so they never delay what is recorded.
            let sink: any HistorySink = metrics.map { TeeSink([recorder.sink, $0]) } ?? recorder.sink
            recorder.handleLeftovers(stop: loaded.supervisor.stopLeftovers)

            let resources = Self.makeResources(config: loaded, logger: logger)
            do {
                let supervisor = try Supervisor(programs: loaded.programs, pools: loaded.pools, supervisor: loaded.supervisor,
                                                sink: sink, logger: logger, resources: resources.hook)
                metrics?.attach(supervisor: supervisor, writer: recorder.writer)
                let textfile = metrics.flatMap { m in metricsSpec.textfile.map { MetricsTextfile(path: $0, interval: metricsSpec.interval, metrics: m) } }
                try supervisor.start()
                textfile?.start()
                var specs: [String: ProgramSpec] = [:]
                for p in loaded.programs { specs[p.name] = p }
                for p in loaded.pools { specs[p.name] = p.worker }
                let watcher = Watcher(supervisor: supervisor, specs: specs, spec: loaded.supervisor, sink: sink,
                                      cgroups: resources.cgroups, logger: logger)
                watcher.start()
                await supervisor.waitUntilFinished()
                watcher.stop()
                textfile?.stop()
                if let problem = textfile?.error { logger.error("metrics_textfile: \(problem)") }
                resources.cgroups?.removeParents()
            } catch {
                printError("histd: \(error)")
                await server?.stop()
                recorder.finish(reason: .unclean)
                throw ExitCode(1)
            }
            await server?.stop()
            recorder.finish(reason: .clean)
        }

        /// cgroups only when some program asks for them; when they are unavailable, say so once.
        static func makeResources(config: HistConfig, logger: Logger) -> (hook: any ProgramResources, cgroups: CgroupResources?) {
            let wanted = config.programs.contains { $0.cgroup != nil } || config.pools.contains { $0.worker.cgroup != nil }
            guard wanted else { return (NoProgramResources(), nil) }
            let detected = Cgroups.detect()
            if let reason = detected.unavailableReason {
                logger.error("cgroups are unavailable (\(reason)); programs with a cgroup table run WITHOUT their cgroup limits")
                return (NoProgramResources(), nil)
            }
            logger.notice("cgroups: \(detected.summary)")
            let resources = CgroupResources(cgroups: detected, logger: logger)
            return (resources, resources)
        }
    }
}

func currentEnvironment() -> [String: String] {
    var env: [String: String] = [:]
    var p = environ
    while let entry = p.pointee {
        let s = String(cString: entry)
        if let eq = s.firstIndex(of: "=") { env[String(s[..<eq])] = String(s[s.index(after: eq)...]) }
        p += 1
    }
    return env
}

func printError(_ text: String) {
    let line = text + "\n"
    var copy = line
    copy.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
}
