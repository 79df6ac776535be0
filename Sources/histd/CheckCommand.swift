import ArgumentParser
import HistConfig
import HistModel
import HistStore

import HistSys
#if canImport(Glibc)
import Glibc
#endif

extension Histd {
    /// `histd check`: validate a config without starting anything.
    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "check",
            abstract: "Validate a config file without starting anything.",
            discussion: """
            Reads the TOML file, checks every key, type, range and path, resolves each \
            program's command[0] to an executable (bare names through $PATH, relative \
            paths from the config file's folder), checks that metrics_listen is loopback \
            (or a unix socket, unless metrics_allow_remote = true) and free, and that \
            metrics_textfile's directory exists, and reports EVERY problem at once, \
            one per line, as FILE:LINE: KEY: message

            Example:

              $ histd check --config examples/demo.toml
              examples/demo.toml: ok — 4 programs, 0 pools
                program steady    /…/examples/steady.sh  restart=always stop_order=2
                ...

              $ histd check --config broken.toml
              broken.toml:3: program.web.restart: invalid value "sometimes": ...
              broken.toml:4: program.web.restart_dely: unknown key; did you mean restart_delay?
              2 problems; nothing was started.

            It then checks the history database (--db, $HISTD_DB, the config's db, \
            then the default), without creating or changing it: that the file is a \
            histd database this histd can write (not another application's, not a \
            newer histd's), or that it can be created, and that its file system is \
            not full. For example:

              histd check: history database /var/lib/histd/history.db (from config): \
            cannot be written: Read-only file system

            Exit status: 0 when the config is valid and the database usable; 2 when \
            the config has problems (the same code `histd run` uses for a bad \
            config); 3 when the config is valid but the history database cannot be \
            used (`histd run` would refuse a foreign or newer file, and for the rest \
            would supervise without recording until it can). Every key is described \
            in docs/CONFIG.md.
            """
        )

        @Option(help: "The TOML config file to check.") var config: String
        @Option(help: "History database path (overrides $HISTD_DB and the config's db).") var db: String?

        func run() async throws {
            let loaded: HistConfig
            do {
                loaded = try ConfigLoader.load(path: config, runnerUID: geteuid())
            } catch {
                for problem in error.problems { Self.printError(problem.description) }
                let n = error.problems.count
                Self.printError("\(n) problem\(n == 1 ? "" : "s"); nothing was started.")
                throw ExitCode(2)
            }
            print(Self.summary(loaded, file: config))
            let location = DatabaseLocation.resolve(flag: db, environment: currentEnvironment(), configDB: loaded.supervisor.db)
            if let problem = DatabaseCheck.problem(path: location.path) {
                Self.printError("histd check: history database \(location.path) (from \(location.source.rawValue)): \(problem)")
                throw ExitCode(3)
            }
        }

        /// One line to stderr with a plain write(2): `stderr` (the C global) is not concurrency-safe in Swift 6.
        static func printError(_ line: String) {
            let bytes = Array((line + "\n").utf8)
            _ = bytes.withUnsafeBytes { Sys.writeAll(2, $0) }
        }

        /// `FILE: ok — N programs, M pools` and one line per program and pool.
        static func summary(_ c: HistConfig, file: String) -> String {
            let p = c.programs.count, q = c.pools.count
            var lines = ["\(file): ok — \(p) program\(p == 1 ? "" : "s"), \(q) pool\(q == 1 ? "" : "s")"]
            let width = min(24, (c.programs.map(\.name) + c.pools.map(\.name)).map(\.count).max() ?? 0)
            func pad(_ s: String) -> String { s.count >= width ? s : s + String(repeating: " ", count: width - s.count) }
            for spec in c.programs {
                lines.append("  program \(pad(spec.name))  \(spec.command.joined(separator: " "))  " + describe(spec))
            }
            for pool in c.pools {
                let age = pool.maxWorkerAge.map { " max_worker_age=\(HistDuration.format($0))" } ?? ""
                lines.append("  pool    \(pad(pool.name))  \(pool.worker.command.joined(separator: " "))  "
                    + "workers=\(pool.minWorkers)..\(pool.maxWorkers) scale_on=\(pool.scaleOn.rawValue)\(age) " + describe(pool.worker))
            }
            let m = c.supervisor.metrics
            if let listen = m.listen { lines.append("  metrics GET /metrics on \(listen)") }
            if let file = m.textfile { lines.append("  metrics textfile \(file) every \(HistDuration.format(m.interval))") }
            return lines.joined(separator: "\n")
        }

        private static func describe(_ s: ProgramSpec) -> String {
            var parts = ["restart=\(s.restart.rawValue)", "stop_order=\(s.stopOrder)"]
            if !s.autostart { parts.append("autostart=false") }
            if let mb = s.maxMemoryMB { parts.append("max_memory_mb=\(mb)") }
            if s.cgroup != nil { parts.append("cgroup") }
            return parts.joined(separator: " ")
        }
    }
}
