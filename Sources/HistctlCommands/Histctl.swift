import ArgumentParser
import Foundation
import Glibc

/// `histctl`: answers on-call questions from histd's history database, read-only.
///
/// Every subcommand names itself (`commandName:`): without it argument-parser derives each name with
/// `String(describing: Self.self)` at every start, and each of those is a protocol-conformance lookup that
/// scans every conformance record in the process (Foundation's included). That was two thirds of the
/// instructions of `histctl --version` (BENCHMARKS.md, "Process start").
/// The same command tree runs as `histctl` and as `histctl-fleet`; only the latter has a `FleetBackend`
/// (FleetMode.swift's FleetClient says why there are two executables).
public struct Histctl: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "histctl",
        abstract: "Query histd's history (crashes, loops, zombies, orphans, breaches, status, postmortems, SQL; prune it), and operate a running histd (start, stop, restart, signal, scale, reload).",
        discussion: """
        histctl opens the history database read-only and never creates or changes it (except `histctl prune`, the one \
        command that deletes old rows); histd need not be running for the reports. The control verbs (start, stop, \
        restart, signal, scale, reload, and status when histd answers) talk to the running histd over its control \
        socket (--socket, $HISTD_SOCKET, the config's control_socket, the default); histd records who asked. \
        The database is --db PATH, else $HISTD_DB, else the `db` of --config FILE, else the default path \
        (/var/lib/histd/history.db as root, else $XDG_STATE_HOME/histd/history.db or ~/.local/state/histd/history.db).

        Times: --since/--until/--at take now, today, yesterday (local midnight), a duration ago (30s, 15m, 1h30m, \
        -1h, "2 hours ago"; +1h is ahead), @EPOCH seconds, or a time (2026-11-21T10:00:00Z, \
        2026-11-21T10:00:00+01:00, "2026-11-21 10:00" in local time, 2026-11-21 for local midnight). \
        Tables show local time ($TZ) with the UTC offset (in the header when all rows share it); JSON and CSV use UTC \
        ISO-8601 with milliseconds.

        Tables fit the terminal ($COLUMNS, else its size): long cells are shortened, low-value columns left out and \
        named; --wide shows everything. Tables show 50 rows (-n/--limit N, --all) with a footer saying how many more; \
        JSON and CSV are complete. --program NAME (a program, pool, or pool worker such as jobs.0) that the history does \
        not have is a usage error.

        Exit codes: 0 ok (an empty report too); 1 runtime or database error (missing, unreadable, not a histd \
        database), or histd not reachable, or the action failed (the reason is printed); 2 bad config file; 3 the report \
        found something and --fail-if-found was given; 64 usage error or unknown program (also an unknown --program); \
        77 refused for lack of permission.

        Shell completion: histctl --generate-completion-script bash|zsh|fish
        """,
        version: HistctlVersion.string,
        subcommands: [Crashes.self, Loops.self, Zombies.self, Orphans.self, Breaches.self, Status.self, Top.self,
                      PostmortemCommand.self, SQL.self, Prune.self, Logs.self, Events.self,
                      Start.self, Stop.self, Restart.self, Signal.self, Scale.self, Reload.self, Fleet.self]
    )

    /// Who runs fleet requests: nil in histctl (it execs histctl-fleet), set by histctl-fleet. Written once, by
    /// `main(fleet:)` before any command is parsed, and only read afterwards.
    nonisolated(unsafe) static var fleetBackend: (any FleetBackend)?

    /// Runs histctl on `CommandLine.arguments` and exits.
    /// `--previous` alone means `--previous=1` (argument-parser options always take a value), and a
    /// `histctl sql` statement that starts with `--` is kept as the statement (SQL.protectComments).
    public static func main(fleet: (any FleetBackend)?) -> Never {
        fleetBackend = fleet
        let args = CommandLine.arguments.dropFirst().map { $0 == "--previous" ? "--previous=1" : $0 }
        main(SQL.protectComments(Array(args)))
        Glibc.exit(0)
    }

    public init() {}
}

enum HistctlVersion {
    static let string = "0.1.0"
}
