import ArgumentParser

/// `histd`: a process supervisor that records everything it sees in SQLite.
@main
struct Histd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "histd",
        abstract: "A process supervisor with a memory: keeps programs alive and records every start, exit and limit breach in SQLite.",
        discussion: """
        Start with `histd check --config FILE` to validate a config, then `histd run --config FILE`.
        Query the history with `histctl` (see `histctl --help`).

        Exit codes: 0 ok; 1 runtime failure; 2 bad config; 64 usage error.
        """,
        version: HistdVersion.string,
        subcommands: [Run.self, Check.self, Scan.self]
    )
}

enum HistdVersion {
    static let string = "0.1.0"
}
