import ArgumentParser

// The control verbs: they ask the running histd to act (docs/CONTROL.md). NAME is a program, a pool
// (every worker), or one pool worker as the logs name it (jobs.0).

extension Histctl {
    struct Start: NamesVerb {
        static let configuration = CommandConfiguration(
            commandName: "start",
            abstract: "Start programs, pools or pool workers that are stopped, exited, failed or in backoff.",
            discussion: "Returns once each runs (or after --timeout, default 30s). Example: histctl start web jobs.1")
        @Argument(help: "Programs, pools or pool workers (jobs.0).") var names: [String]
        @OptionGroup var control: ControlOptions
        static let verb = "start"
    }

    struct Stop: NamesVerb {
        static let configuration = CommandConfiguration(
            commandName: "stop",
            abstract: "Stop programs, pools or pool workers (stop signal, then SIGKILL after stop_timeout); they stay stopped.",
            discussion: "Returns once each process is gone (or after --timeout, default 30s). Example: histctl stop web")
        @Argument(help: "Programs, pools or pool workers (jobs.0).") var names: [String]
        @OptionGroup var control: ControlOptions
        static let verb = "stop"
    }

    struct Restart: NamesVerb {
        static let configuration = CommandConfiguration(
            commandName: "restart",
            abstract: "Stop and start again; recorded as the operator's doing, never as a crash.",
            discussion: "Returns once the new instance runs and prints `web: restarted, pid 4711 -> 4730` (or after --timeout, default 30s). Example: histctl restart web")
        @Argument(help: "Programs, pools or pool workers (jobs.0).") var names: [String]
        @OptionGroup var control: ControlOptions
        static let verb = "restart"
    }

    struct Signal: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "signal",
            abstract: "Send a signal to the running process group of programs, pools or pool workers.",
            discussion: "SIGNAL is one of HUP INT QUIT USR1 USR2 TERM WINCH CONT; KILL only with --force. Example: histctl signal HUP web")
        @Argument(help: "HUP, INT, QUIT, USR1, USR2, TERM, WINCH, CONT (KILL with --force).") var signal: String
        @Argument(help: "Programs, pools or pool workers (jobs.0).") var names: [String]
        @Flag(help: "Allow KILL.") var force = false
        @OptionGroup var control: ControlOptions
        func validate() throws {
            if names.isEmpty { throw ValidationError("name at least one program") }
            var n = signal.uppercased()
            if n.hasPrefix("SIG") { n.removeFirst(3) }
            let allowed = ["HUP", "INT", "QUIT", "USR1", "USR2", "TERM", "WINCH", "CONT"]
            if n == "KILL" && !force { throw ValidationError("KILL needs --force") }
            if n != "KILL" && !allowed.contains(n) { throw ValidationError("SIGNAL must be one of \(allowed.joined(separator: " ")) (KILL with --force)") }
        }
        func run() throws { try control.perform(["cmd": "signal", "names": names, "signal": signal, "force": force]) }
    }

    struct Scale: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "scale",
            abstract: "Set a pool's desired size; min_workers and max_workers still apply.",
            discussion: "Returns once the pool has that many running workers (or after --timeout, default 30s). Example: histctl scale jobs 4")
        @Argument(help: "The pool.") var pool: String
        @Argument(help: "Desired number of workers.") var count: Int
        @OptionGroup var control: ControlOptions
        func validate() throws { if count < 0 { throw ValidationError("N must not be negative") } }
        func run() throws { try control.perform(["cmd": "scale", "names": [pool], "count": count]) }
    }

    struct Reload: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "reload",
            abstract: "Ask histd to re-read the config file it was started with.",
            discussion: "--dry-run prints the plan and changes nothing. Example: histctl reload --dry-run")
        @Flag(help: "Print the plan; change nothing.") var dryRun = false
        @OptionGroup var control: ControlOptions
        func run() throws { try control.perform(["cmd": "reload", "dry_run": dryRun]) }
    }
}

/// start, stop and restart: a verb and the names it acts on, nothing else.
protocol NamesVerb: ParsableCommand {
    /// The protocol's `cmd`.
    static var verb: String { get }
    var names: [String] { get }
    var control: ControlOptions { get }
}

extension NamesVerb {
    func validate() throws { if names.isEmpty { throw ValidationError("name at least one program") } }
    func run() throws { try control.perform(["cmd": Self.verb, "names": names]) }
}
