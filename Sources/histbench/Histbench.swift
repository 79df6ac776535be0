import ArgumentParser
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// `histbench`: whole-scenario benchmarks of histd (see BENCHMARKS.md for method and results).
@main
struct Histbench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Benchmarks of histd as whole scenarios: restart, detect, spawn, overhead, sampler, record, query, size.",
        discussion: """
        Run a release build: swift run -c release histbench <scenario> [--trials N] [--json].
        Every process histbench starts is stopped again (by pid) on success, failure and Ctrl-C.
        Results are also written to SCRATCH/results/<scenario>.json.

        Example: swift run -c release histbench restart --trials 50
        """,
        subcommands: [Restart.self, Detect.self, Spawn.self, Overhead.self, Sampler.self, Record.self, Ship.self, Query.self, PostmortemProfile.self, Size.self, Control.self, ControlFlood.self,
                      Metrics.self, All.self])
}

/// Options every scenario takes.
struct BenchOptions: ParsableArguments {
    @Option(help: "Measured trials (repetitions); each scenario has its own default.")
    var trials: Int?

    @Flag(help: "Print machine-readable JSON (an array of scenario results) instead of text.")
    var json = false

    @Option(help: ArgumentHelp("The checkout holding bench/*.c and .build (default: the one histbench was built from).", valueName: "dir"))
    var repo: String?

    @Option(help: ArgumentHelp("Scratch folder for helpers, configs, stamp files and databases.", valueName: "dir"))
    var scratch: String = "/tmp/histbench"

    @Option(help: ArgumentHelp("The histd binary to measure (default: REPO/.build/release/histd, else debug).", valueName: "path"))
    var histd: String?

    func validate() throws {
        if let trials, trials < 1 { throw ValidationError("--trials must be at least 1") }
    }

    /// Sets up cleanup, runs the scenarios, prints and saves their results; stops everything started.
    func execute(_ body: (Workspace) throws -> [ScenarioResult]) throws {
        Processes.shared.install()
        defer { Processes.shared.killEverything() }
        let workspace = try Workspace(repo: repo, scratch: scratch, histd: histd)
        let results: [ScenarioResult]
        do {
            results = try body(workspace)
        } catch {
            Processes.shared.killEverything()
            FileHandle.standardError.write("histbench: \(error)\n".data(using: .utf8)!)
            throw ExitCode(1)
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try? FileManager.default.createDirectory(atPath: scratch + "/results", withIntermediateDirectories: true)
        for r in results {
            if let data = try? encoder.encode(r) {
                try? data.write(to: URL(fileURLWithPath: scratch + "/results/\(r.scenario).json"))
            }
        }
        if json {
            print(String(decoding: try encoder.encode(results), as: UTF8.self))
        } else {
            for r in results { print(r.text()) }
        }
    }
}

/// Progress lines go to stderr so `--json` output stays clean.
func progress(_ text: String) {
    FileHandle.standardError.write(("histbench: " + text + "\n").data(using: .utf8)!)
}

extension Histbench {
    struct Restart: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "A program that exits 1 at once, restart_delay 0: its exit stamp to the next instance's start stamp (target <= 1 ms).")
        @OptionGroup var options: BenchOptions
        @Option(help: "The program's kill_mode: tree (the default), process, or both (tree and process runs, one after the other, for a same-sitting comparison).")
        var killMode: String?
        func validate() throws {
            if let k = killMode, !["tree", "process", "both"].contains(k) {
                throw ValidationError("--kill-mode must be tree, process or both")
            }
        }
        func run() throws {
            try options.execute { ws in
                switch killMode {
                case nil: [try RestartScenario.run(ws, trials: options.trials ?? 50)]
                case "both"?: [try RestartScenario.run(ws, trials: options.trials ?? 50, name: "restart-tree", killMode: "tree"),
                               try RestartScenario.run(ws, trials: options.trials ?? 50, name: "restart-process", killMode: "process")]
                case let k?: [try RestartScenario.run(ws, trials: options.trials ?? 50, name: "restart-\(k)", killMode: k)]
                }
            }
        }
    }

    struct Detect: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "kill -9 a long-running child: the kill to its replacement's start stamp (target <= 1 ms).")
        @OptionGroup var options: BenchOptions
        @Option(help: "Seconds each victim runs before the kill (plus a random 0-0.3 s).") var hold: Double = 0.3
        func run() throws { try options.execute { [try DetectScenario.run($0, trials: options.trials ?? 20, hold: hold)] } }
    }

    struct Spawn: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "histd's launch until all N children have stamped their start (target N=500 <= 0.4 s).")
        @OptionGroup var options: BenchOptions
        @Option(help: "Number of programs.") var n: Int = 500
        func run() throws { try options.execute { [try SpawnScenario.run($0, n: n, trials: options.trials ?? 3)] } }
    }

    struct Overhead: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "histd's own CPU (% of one core) and PSS with N idle children, recording on and off.")
        @OptionGroup var options: BenchOptions
        @Option(help: "Measurement window in seconds (after all children are up and 5 s of settling).") var duration: Double = 60
        @Option(help: "Comma-separated child counts.") var n: String = "100,500"
        @Option(help: "Which recording settings to run: on, off or both.") var recording: String = "both"
        func run() throws {
            let counts = n.split(separator: ",").compactMap { Int($0) }
            let modes: [Bool] = recording == "on" ? [true] : recording == "off" ? [false] : [true, false]
            try options.execute { [try OverheadScenario.run($0, counts: counts, recording: modes, duration: duration)] }
        }
    }

    struct Sampler: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "One HistProc sweep (stat, statm, status) over 1,000 idle processes (target <= 5 ms).")
        @OptionGroup var options: BenchOptions
        @Option(help: "Number of idle processes to sample.") var procs: Int = 1000
        func run() throws { try options.execute { [try SamplerScenario.run($0, procs: procs, trials: options.trials ?? 50)] } }
    }

    struct Record: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Events/s through HistStore's HistoryWriter into a WAL SQLite file for 10 s (target >= 300,000/s), plus commit latency at 1,000 events/s.")
        @OptionGroup var options: BenchOptions
        @Option(help: "Seconds of sustained writing.") var duration: Double = 10
        @Option(help: "Events per second for the latency run.") var lightRate: Int = 1000
        @Flag(help: "Write as a shipping host does: the writer's ship-capture triggers on ([ship] set; docs/FLEET.md). Default: as a host without [ship].")
        var ship = false
        func run() throws {
            try options.execute { [try RecordScenario.run($0, duration: duration, lightRate: lightRate, trials: options.trials ?? 1,
                                                         ship: ship ? .on : .off)] }
        }
    }

    struct Ship: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Fleet shipping (issue 17) against a throwaway PostgreSQL 15: histd-ship throughput (target >= 50,000 events/s), lag at 1,000 events/s (p99 <= 2 s), fleet crashes --summary (<= 200 ms) and loops (<= 500 ms) over 100 hosts x 1 day.",
            discussion: "Needs PostgreSQL 15 (/usr/lib/postgresql/15/bin) and the histd-ship and histctl of the same build.")
        @OptionGroup var options: BenchOptions
        @Option(help: "Events in each throughput run's local history.") var events: Int = 300_000
        @Option(help: "Events per second in the lag run.") var lagRate: Int = 1000
        @Option(help: "Seconds of the lag run.") var lagSeconds: Double = 30
        @Option(help: "Hosts in the fleet fixture.") var hosts: Int = 100
        @Option(help: "Programs per host in the fleet fixture (one day each).") var programs: Int = 50
        @Option(help: "Which parts to run, comma-separated: throughput, lag, fleet.") var parts: String = "throughput,lag,fleet"
        @Flag(help: "Leave the PostgreSQL cluster running afterwards, even when a part fails (its URL and directory are printed), to work on the fleet queries. Stop it with pg_ctl -D DIR/pg/data stop and remove DIR.")
        var keepCluster = false
        func validate() throws {
            guard events > 0, lagRate > 0, lagSeconds > 0, hosts >= 1, programs >= 1 else {
                throw ValidationError("--events, --lag-rate, --lag-seconds, --hosts and --programs must be positive")
            }
        }
        func run() throws {
            try options.execute { [try ShipScenario.run($0, events: events, lagRate: lagRate, lagSeconds: lagSeconds, hosts: hosts,
                                                       programs: programs, reps: options.trials ?? 3,
                                                       parts: Set(parts.split(separator: ",").map(String.init)), keepCluster: keepCluster)] }
        }
    }

    struct Query: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Each histctl report on the 30-day x 200-program fixture (generated once into SCRATCH/full-g*.db, then reused).")
        @OptionGroup var options: BenchOptions
        @Option(help: "Only the reports whose names start with these (comma-separated), e.g. crashes,top.") var only: String = ""
        func run() throws {
            let names = only.split(separator: ",").map(String.init)
            try options.execute { [try QueryScenario.run($0, reps: options.trials ?? 7, only: names)] }
        }
    }

    struct PostmortemProfile: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "postmortem",
            abstract: "The 1 h postmortem of the fixture: each query, the Markdown and the HTML rendering timed apart; the page's bytes per section.")
        @OptionGroup var options: BenchOptions
        func run() throws { try options.execute { [try PostmortemScenario.run($0, reps: options.trials ?? 7)] } }
    }

    struct Size: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Database bytes per event row and per snapshot row on the fixture (dbstat).")
        @OptionGroup var options: BenchOptions
        func run() throws { try options.execute { [try SizeScenario.run($0)] } }
    }

    struct Control: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "N idle programs: wall time of `histctl status` (live) and of the `histctl restart` round trip, with the load average.")
        @OptionGroup var options: BenchOptions
        @Option(help: "Number of programs.") var n: Int = 500
        func run() throws { try options.execute { [try ControlScenario.run($0, n: n, trials: options.trials ?? 20)] } }
    }

    struct ControlFlood: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "control-flood",
            abstract: "Restart latency (exit to next start, target <= 1 ms) with the control socket idle, then flooded by N clients, garbage and a client that never reads.")
        @OptionGroup var options: BenchOptions
        @Option(help: "Flooding clients (each sends bursts of 50 status requests).") var clients: Int = 20
        func run() throws { try options.execute { [try ControlFloodScenario.run($0, trials: options.trials ?? 50, clients: clients)] } }
    }

    struct Metrics: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "A scrape of the Prometheus metrics with N programs (target N=500 <= 5 ms), the per-event feeding cost, and restart latency with metrics off and on.")
        @OptionGroup var options: BenchOptions
        @Option(help: "Number of programs for the scrape.") var n: Int = 500
        @Option(help: "Restart cycles measured in each restart run.") var restartTrials: Int = 50
        @Flag(help: "Only the scrape and feeding measurements (no histd restart runs): for callgrind, e.g. valgrind --tool=callgrind --toggle-collect='*SupervisorMetrics*render*'.")
        var scrapeOnly = false
        func run() throws {
            try options.execute {
                [try MetricsScenario.run($0, programs: n, trials: options.trials ?? 30, restartTrials: restartTrials, scrapeOnly: scrapeOnly)]
            }
        }
    }

    struct All: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Every scenario in turn (overhead uses --duration).")
        @OptionGroup var options: BenchOptions
        @Option(help: "Overhead window in seconds.") var duration: Double = 60
        func run() throws {
            try options.execute { ws in
                var results: [ScenarioResult] = []
                let steps: [(String, () throws -> ScenarioResult)] = [
                    ("restart", { try RestartScenario.run(ws, trials: options.trials ?? 50) }),
                    ("detect", { try DetectScenario.run(ws, trials: options.trials ?? 20, hold: 0.3) }),
                    ("spawn", { try SpawnScenario.run(ws, n: 500, trials: options.trials ?? 3) }),
                    ("overhead", { try OverheadScenario.run(ws, counts: [100, 500], recording: [true, false], duration: duration) }),
                    ("sampler", { try SamplerScenario.run(ws, procs: 1000, trials: options.trials ?? 50) }),
                    ("record", { try RecordScenario.run(ws, duration: 10, lightRate: 1000, trials: 1) }),
                    ("query", { try QueryScenario.run(ws, reps: options.trials ?? 7) }),
                    ("size", { try SizeScenario.run(ws) }),
                ]
                for (name, step) in steps {
                    progress("running \(name)")
                    do { results.append(try step()) } catch {
                        // One failing scenario (e.g. histd not built) must not hide the others.
                        var r = ScenarioResult(name)
                        r.info["error"] = "\(error)"
                        results.append(r)
                        Processes.shared.killEverything()
                    }
                }
                return results
            }
        }
    }
}
