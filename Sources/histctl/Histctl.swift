import ArgumentParser

/// `histctl`: answers on-call questions from histd's history database, read-only.
@main
struct Histctl: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "histctl",
        abstract: "Query histd's history: crashes, crash loops, zombies, orphans, limit breaches, status, time travel, postmortems, SQL; prune it.",
        discussion: """
        histctl opens the history database read-only and never creates or changes it (except `histctl prune`, the one \
        command that deletes old rows); histd need not be running. \
        The database is --db PATH, else $HISTD_DB, else the `db` of --config FILE, else the default path \
        (/var/lib/histd/history.db as root, else $XDG_STATE_HOME/histd/history.db or ~/.local/state/histd/history.db).

        Times: --since/--until take a duration ago (30s, 15m, 1h, 1d, 2w) or a time (2026-11-21T10:00:00Z, \
        2026-11-21T10:00:00+01:00, "2026-11-21 10:00" in local time, 2026-11-21 for local midnight). \
        Tables show local time ($TZ) with the UTC offset; JSON and CSV use UTC ISO-8601 with milliseconds.

        Exit codes: 0 ok (an empty report too); 1 runtime or database error (missing, unreadable, not a histd \
        database); 2 bad config file; 3 the report found something and --fail-if-found was given; 64 usage error.

        Shell completion: histctl --generate-completion-script bash|zsh|fish
        """,
        version: HistctlVersion.string,
        subcommands: [Crashes.self, Loops.self, Zombies.self, Orphans.self, Breaches.self, Status.self, Top.self,
                      PostmortemCommand.self, SQL.self, Prune.self]
    )

    static func main() {
        main(SQL.protectComments(Array(CommandLine.arguments.dropFirst())))
    }
}

enum HistctlVersion {
    static let string = "0.1.0"
}
