import ArgumentParser
import HistConfig
import HistControl
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
            commandName: "run",
            abstract: "Supervise the programs of a config file until SIGTERM/SIGINT, recording every fact in SQLite.",
            discussion: """
            Starts every program (autostart = true) in descending stop_order, restarts them under their
            restart policy and backoff, samples them every snapshot_interval, scans for zombies and
            orphans every scan_interval, and records it all in the history database. On SIGTERM or SIGINT
            it stops programs group by group in ascending stop_order (stop signal, then SIGKILL after
            stop_timeout) and exits 0 once nothing it started is left.

            On SIGHUP it reloads the config file: the whole file is validated first (on any error nothing
            changes, and the errors are logged as FILE:LINE: KEY: message); then added programs start, removed
            ones stop in stop_order, programs whose spawn keys changed restart, supervision-only keys apply in
            place and pools re-size. Keys that cannot change live (db, log_dir, ...) refuse the reload. Every
            attempt is recorded in the reloads table with the sender's pid and uid (docs/CONFIG.md).

            If an earlier histd died without stopping (kill -9, power loss), this start closes its run as
            unclean and, before starting anything, stops every process it left running (unless [supervisor]
            stop_leftovers = false): its recorded instances, every process carrying its HISTD_RUN marker
            (setsid escapers, double forks, processes spawned just before the crash) and its cgroups, so
            that nothing runs unsupervised twice. Programs that had given up stay failed, and backoffs
            resume ([supervisor] restore_state).

            Signals: TERM and INT shut down; HUP reloads the config file (as above, the same as histctl
            reload); USR1 reopens the log files; every other catchable signal is ignored and logged once (docs/CONFIG.md).

            With [supervisor] metrics_listen (e.g. "127.0.0.1:9464", or a unix socket path) it serves
            Prometheus metrics at GET /metrics (OpenMetrics when the scraper asks), and with
            metrics_textfile it rewrites that file every metrics_interval (default 15s) for
            node_exporter's textfile collector. Every metric is in docs/METRICS.md. An address that
            cannot be used stops histd before anything starts (exit 1).

            The database is, in order: --db, $HISTD_DB, the config's db, then the default
            (/var/lib/histd/history.db for root, ~/.local/state/histd/history.db otherwise).

            It listens on a control socket for histctl's start, stop, restart, signal, scale and status
            (docs/CONTROL.md): --socket, $HISTD_SOCKET, the config's control_socket, then the default
            (/run/histd/control.sock for root, $XDG_RUNTIME_DIR/histd/control.sock otherwise).
            As root, histd refuses a database folder or log_dir that another user can write to, never
            follows a symbolic link for the files it writes, and creates them 0640 ([supervisor] group
            gives them a reader group). Under systemd (Type=notify, $NOTIFY_SOCKET) it sends READY=1 once
            every autostart program has started and STOPPING=1 when shutdown begins.

            Example:
              histd run --config /etc/histd/histd.toml

            A database that cannot be opened or written now (full disk, read-only mount, a missing \
            permission, a lock held by another process) does not stop histd: it supervises, holds facts in \
            memory, retries, and records the run, what waited and a storage_outage once it can. A database \
            deleted or replaced under it is recreated. stderr gets one line per change of state (cannot \
            open, full, locked, deleted, dropping, recording again); see docs/ARCHITECTURE.md, "Faults".

            Exit codes: 0 after a clean shutdown; 1 when the engine cannot start or the database file is \
            refused (a directory, a symbolic link, not SQLite, another application's, a newer histd's); 2 for \
            a bad config.
            """)
        @Option(help: "The TOML config file.") var config: String
        @Option(help: "History database path (overrides $HISTD_DB and the config's db).") var db: String?
        @Option(help: "Control socket path (overrides $HISTD_SOCKET and the config's control_socket).") var socket: String?
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
            do { loaded = try ConfigLoader.load(path: config, runnerUID: geteuid()) } catch {
                for problem in error.problems { printError(problem.description) }
                printError("\(error.problems.count) problem(s); nothing was started.")
                throw ExitCode(2)
            }
            var logger = Logger(label: "histd") { StreamLogHandler.standardError(label: $0) }
            logger.logLevel = Logger.Level(rawValue: logLevel) ?? .info

            // Every long-lived component is a service of `services`: started in order below, stopped in
            // reverse (each within its budget) after the engine ends, and, when a start fails, everything
            // started before it is stopped the same way: the metrics listener closed, the run closed as
            // unclean, the cgroup parents removed, the socket file removed (ServiceStack, docs/ARCHITECTURE.md).
            let services = ServiceStack(logger: logger)
            let runEnd = RunEnd()
            do {
                let supervisor = try await startServices(services, config: loaded, logger: logger, runEnd: runEnd)
                StartupCodeRelease.schedule(logger: logger)
                await supervisor.waitUntilFinished()
                runEnd.reason = .clean
            } catch let failure as ServiceStack.StartFailure {
                // `start` has already stopped what had started, and the writer closed the run as unclean.
                printError("histd: \(failure.underlying)")
                throw ExitCode(1)
            }
            _ = await services.stop()
        }

        /// Starts histd's services in order and returns the supervisor (whose end is histd's end).
        /// Order: metrics listener, writer (then recovery of a dead histd's leftovers), cgroups, engine,
        /// metrics textfile, watcher, control socket; the stop is the reverse.
        private func startServices(_ services: ServiceStack, config loaded: HistConfig, logger: Logger,
                                   runEnd: RunEnd) async throws -> Supervisor {
            let location = DatabaseLocation.resolve(flag: db, environment: currentEnvironment(), configDB: loaded.supervisor.db)
            // [ship]: histd-ship joins the programs (it ships this database), before anything counts them.
            let loaded = ShipperProgram.adding(to: loaded, dbPath: location.path)
            // Metrics before the database: an address that cannot be used changes nothing.
            let metricsSpec = loaded.supervisor.metrics
            let metrics = metricsSpec.isOff ? nil
                : SupervisorMetrics(programs: loaded.programs.map(\.name), pools: loaded.pools, version: HistdVersion.string)
            if let metrics, let listen = metricsSpec.listen {
                _ = try await services.start("metrics", start: {
                    do { return try await MetricsServer.start(listen, metrics: metrics) } catch {
                        throw RunStartError("metrics_listen: \(error)")
                    }
                }, stop: { await $0.stop() })
                logger.notice("metrics: serving GET /metrics on \(listen)")
            }


            // endRun's flush and the close each wait up to 5 s for the writer.
            let recorder = try await services.startBlocking("writer", stopBudget: .seconds(15), start: {
                if let problem = SafeFiles.prepare(dbPath: location.path, supervisor: loaded.supervisor) {
                    throw RunStartError("\(problem)")
                }
                do {
                    let recorder = try Recorder.open(path: location.path, config: loaded, logger: logger,
                                                     onCommit: metrics?.commitObserver)
                    SafeFiles.shareDatabase(dbPath: location.path, supervisor: loaded.supervisor)
                    return recorder
                } catch {
                    throw RunStartError("cannot use the history database \(location.path) (from \(location.source.rawValue)): \(error)")
                }
            }, stop: { $0.finish(reason: runEnd.reason) })
            // The writer first: metrics only count, so they never delay what is recorded.
            let sink: any HistorySink = metrics.map { TeeSink([recorder.sink, $0]) } ?? recorder.sink
            let resources = Self.makeResources(config: loaded, logger: logger)
            // Before any program starts: stop what a dead histd of this database left running.
            let recovery = Recovery(markerKey: location.path,
                                    programs: Set(loaded.programs.map(\.name) + loaded.pools.map(\.name)), logger: logger)
            recovery.run(openInstances: recorder.leftovers ?? [], cgroups: resources.detected,
                         stop: loaded.supervisor.stopLeftovers, sink: recorder.sink)
            if let cgroups = resources.cgroups {
                // Started before the engine, so stopped after it: the "histd-<pid>" parents are empty by then.
                _ = try await services.startBlocking("cgroups", start: { cgroups }, stop: { $0.removeParents() })
            }
            let reloader = ConfigReloader(path: config, current: loaded, store: recorder.store, writer: recorder.writer, logger: logger)
            var options = SupervisorOptions(ownerKey: location.path)
            options.onHangup = { reloader.hangup($0) }
            if loaded.supervisor.restoreState {
                let now = Timestamp.now()
                for (name, fact) in recorder.lastRestartFacts { options.restored[name] = RestoredState.decide(last: fact, now: now) }
            }
            let engineOptions = options
            let supervisor = try await services.start("engine", stopBudget: Self.engineStopBudget(loaded), start: {
                let supervisor = try Supervisor(programs: loaded.programs, pools: loaded.pools, supervisor: loaded.supervisor,
                                                sink: sink, logger: logger, resources: resources.hook, options: engineOptions)
                metrics?.attach(supervisor: supervisor, writer: recorder.writer,
                                shipDatabase: loaded.ship == nil ? nil : location.path)
                try supervisor.start()
                return supervisor
            }, stop: { supervisor in
                // After SIGTERM the engine has ended already; on an error path this is its shutdown.
                if !supervisor.isFinished { _ = supervisor.post(.shutdown) }
                await supervisor.waitUntilFinished()
            })
            if let metrics, let path = metricsSpec.textfile {
                _ = try await services.startBlocking("metrics-textfile", start: {
                    let textfile = MetricsTextfile(path: path, interval: metricsSpec.interval, metrics: metrics)
                    textfile.start()
                    return textfile
                }, stop: { textfile in
                    textfile.stop()
                    if let problem = textfile.error { logger.error("metrics_textfile: \(problem)") }
                })
            }
            let specs = Dictionary(loaded.programs.map { ($0.name, $0) } + loaded.pools.map { ($0.name, $0.worker) },
                                   uniquingKeysWith: { _, last in last })
            let watcher = try await services.startBlocking("watcher", start: {
                let watcher = Watcher(supervisor: supervisor, specs: specs, spec: loaded.supervisor, sink: sink,
                                      cgroups: resources.cgroups, logger: logger)
                watcher.start()
                return watcher
            }, stop: { $0.stop() })
            reloader.attach(supervisor: supervisor, watcher: watcher)
            let socketFlag = socket
            _ = try await services.startBlocking("control", start: {
                Self.startControl(flag: socketFlag, config: loaded, supervisor: supervisor, sink: sink,
                                  reloader: reloader, logger: logger)
            }, stop: { $0?.stop() })
            // The shipper's slot: started last, so it stops first, while the writer still records its end.
            return supervisor
        }

        /// How long the engine's shutdown may take on an error path: every program's stop_timeout as if
        /// the stop groups ran one after another, and room for the SIGKILLs and the reaping after them.
        static func engineStopBudget(_ config: HistConfig) -> Duration {
            let programs = config.programs.map(\.stopTimeout) + config.pools.map(\.worker.stopTimeout)
            return programs.reduce(.seconds(5), +)
        }

        /// `histctl reload` over the socket: the same reload as SIGHUP (ConfigReloader), recorded with the
        /// peer's pid and uid. A file that does not load, or a key that cannot change live, is "failed"
        /// (exit 1) with the errors as the message; nothing changes then.
        static func reloadHook(_ reloader: ConfigReloader) -> ControlServer.ReloadHook {
            { dryRun, peer in
                let outcome = reloader.reload(dryRun: dryRun, requester: .init(trigger: .socket, pid: peer.pid, uid: peer.uid))
                let ok = outcome.result != .invalid && outcome.result != .refused
                let planned = outcome.text.isEmpty ? "nothing to change" : outcome.text
                let message: String = switch outcome.result {
                case .dryRun: "reload plan (dry run, nothing changed):\n" + planned
                case .unchanged: "reload: nothing to change"
                case .applied: "reloaded" + (outcome.generation.map { " (generation \($0))" } ?? "") + ":\n" + planned
                case .invalid: "reload refused, nothing changed: the file has errors:\n" + outcome.text
                case .refused: "reload refused, nothing changed:\n" + outcome.text
                }
                return ControlReply(id: nil, ok: ok, result: ok ? "done" : "failed", message: message)
            }
        }

        /// The control socket (docs/CONTROL.md). A socket that cannot be made is logged and histd
        /// supervises without it: supervision matters more than being operable.
        static func startControl(flag: String?, config: HistConfig, supervisor: Supervisor, sink: any HistorySink,
                                 reloader: ConfigReloader, logger: Logger) -> ControlServer? {
            let location = SocketLocation.resolve(flag: flag, environment: currentEnvironment(), configSocket: config.supervisor.controlSocket)
            do {
                let access = try ControlAccess(controlGroup: config.supervisor.controlGroup, readGroup: config.supervisor.readGroup)
                let socket = try ControlSocket(path: location.path, group: access.readGID ?? access.controlGID)
                let server = try ControlServer(socket: socket, supervisor: supervisor, sink: sink, access: access, logger: logger,
                                               reload: Self.reloadHook(reloader))
                server.start()
                logger.notice("control socket: \(location.path) (from \(location.source.rawValue))")
                return server
            } catch {
                logger.error("no control socket: \(error); histctl cannot act on this histd")
                return nil
            }
        }

        /// cgroups only when some program asks for them; when they are unavailable, say so once.
        /// `detected` is returned whenever cgroups work at all, so that stale groups of a dead histd
        /// are found even when this config uses none.
        static func makeResources(config: HistConfig, logger: Logger)
            -> (hook: any ProgramResources, cgroups: CgroupResources?, detected: Cgroups?) {
            let detected = Cgroups.detect()
            let usable = detected.unavailableReason == nil ? detected : nil
            let wanted = config.programs.contains { $0.cgroup != nil } || config.pools.contains { $0.worker.cgroup != nil }
            guard wanted else { return (NoProgramResources(), nil, usable) }
            if let reason = detected.unavailableReason {
                logger.error("\(reason); programs with a cgroup table run WITHOUT their cgroup limits")
                return (NoProgramResources(), nil, nil)
            }
            logger.notice("cgroups: \(detected.summary)")
            let resources = CgroupResources(cgroups: detected, logger: logger)
            return (resources, resources, usable)
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
