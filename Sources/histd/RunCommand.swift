import ArgumentParser
import HistConfig
import HistCore
import HistModel
import Logging

#if canImport(Glibc)
import Glibc
#endif

extension Histd {
    /// `histd run`: supervise the programs of a config file until SIGTERM/SIGINT.
    struct Run: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Supervise the programs of a config file until SIGTERM/SIGINT.",
            discussion: "Exit codes: 0 after a clean shutdown; 1 when the engine cannot start; 2 for a bad config.")
        @Option(help: "The TOML config file.") var config: String
        @Option(help: "History database path (overrides $HISTD_DB and the config's db).") var db: String?
        @Option(help: "Log level on stderr: trace, debug, info, notice, warning, error.") var logLevel: String = "info"

        func run() async throws {
            // Before any other thread exists: block the signals the engine reads from its signalfd
            // (threads inherit the mask) and become a subreaper.
            do { try Supervisor.prepareProcess() } catch {
                printError("histd: \(error)")
                throw ExitCode(1)
            }
            let loaded: HistConfig
            do { loaded = try ConfigLoader.load(path: config) } catch {
                for problem in error.problems { printError(problem.description) }
                throw ExitCode(2)
            }
            var logger = Logger(label: "histd") { StreamLogHandler.standardError(label: $0) }
            logger.logLevel = Logger.Level(rawValue: logLevel) ?? .info
            // The SQLite writer is wired in later; until then every fact goes to the log.
            let sink = LoggingSink(logger: logger)
            do {
                let supervisor = try Supervisor(programs: loaded.programs, pools: loaded.pools, supervisor: loaded.supervisor,
                                                sink: sink, logger: logger)
                try await supervisor.run()
            } catch {
                printError("histd: \(error)")
                throw ExitCode(1)
            }
        }
    }
}

/// Until the history store is wired in: facts go to the debug log.
private struct LoggingSink: HistorySink {
    let logger: Logger
    func record(_ event: HistEvent) { logger.debug("event \(event.kind.rawValue) \(event.program): \(event.payload)") }
    func record(_ sweep: SnapshotSweep) {}
    func record(_ scan: ScanReport) {}
}

extension Histd.Run {
    fileprivate func printError(_ text: String) {
        var line = text + "\n"
        line.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
    }
}
