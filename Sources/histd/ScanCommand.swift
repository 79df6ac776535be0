import ArgumentParser
import HistConfig
import HistModel
import HistProc
import HistStore

extension Histd {
    /// `histd scan --once`: one system-wide zombie/orphan scan, recorded (for cron).
    struct Scan: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "scan",
            abstract: "Scan /proc once for zombies and orphans and record the result (for cron).",
            discussion: """
            For machines that do not run histd as their supervisor: run this from cron every few
            minutes and `histctl zombies` / `histctl orphans` show the history all the same. A parent
            seen with zombies (or an orphan seen) in consecutive scans is recorded as one interval.

            Example (crontab):
              */5 * * * * histd scan --once --db /var/lib/histd/history.db

            Exit codes: 0 recorded; 1 the database cannot be written; 2 bad config; 64 usage.
            """)
        @Flag(help: "Run a single scan and exit (required: continuous scanning is part of `histd run`).") var once = false
        @Option(help: "History database path (overrides $HISTD_DB and the config's db).") var db: String?
        @Option(help: "A config file to take db and orphan_ignore from.") var config: String?
        @Option(name: .customLong("ignore"), help: "Glob pattern (name or cmdline) never reported as an orphan; repeatable.")
        var ignore: [String] = []

        func validate() throws {
            guard once else { throw ValidationError("histd scan needs --once (histd run scans every scan_interval by itself)") }
        }

        func run() async throws {
            var configDB: String?
            var patterns = ignore
            if let config {
                do {
                    let loaded = try ConfigLoader.load(path: config)
                    configDB = loaded.supervisor.db
                    patterns += loaded.supervisor.orphanIgnore
                } catch {
                    for problem in error.problems { printError(problem.description) }
                    throw ExitCode(2)
                }
            }
            let location = DatabaseLocation.resolve(flag: db, environment: currentEnvironment(), configDB: configDB)
            let report = SystemScanner(orphanIgnore: patterns).scan(at: .now(), supervisor: nil)
            do {
                let store = try HistoryStore.open(path: location.path)
                let writer = store.startWriter()
                writer.record(report)
                let flushed = writer.flush(timeout: .seconds(10))
                let stats = writer.stats
                store.close()
                guard flushed, stats.dropped == 0 else {
                    printError("histd scan: the scan could not be written to \(location.path): \(stats.lastError ?? "timed out")")
                    throw ExitCode(1)
                }
            } catch let exit as ExitCode {
                throw exit
            } catch {
                printError("histd scan: cannot use the history database \(location.path): \(error)")
                throw ExitCode(1)
            }
            let s = report.summary
            print("scan: \(s.total) processes (\(s.running) running, \(s.sleeping) sleeping, \(s.zombie) zombie); "
                + "\(report.zombieParents.count) zombie parent(s), \(report.orphans.count) orphan(s); recorded to \(location.path)")
        }
    }
}
