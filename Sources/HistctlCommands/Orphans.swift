import ArgumentParser
import HistReports

extension Histctl {
    struct Orphans: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "orphans",
            abstract: "Which long-lived orphan processes were seen, and are they still alive?",
            discussion: """
            From histd's system-wide scans. Age is measured at the last sighting; alive means the latest scan saw it. \
            Columns: pid, name, cmdline, user, started, age_s, first_seen, last_seen, alive, program (when it came from a \
            supervised program).

            With --db postgres://... (a fleet database, docs/FLEET.md): the same rows per host across the fleet, a host \
            column first; --host NAME (repeatable) keeps those hosts. There, alive means the newest scan the host has \
            shipped saw it (histd-ship sends its newest scan time each time it catches up).

            Example (cron): histctl orphans --older-than 6h --format csv --fail-if-found
            Example: histctl orphans --db postgres://histd@db.example/fleet --older-than 6h
            """)

        @OptionGroup var options: CommonOptions

        @Option(help: ArgumentHelp("Only processes at least this old at their last sighting.", valueName: "duration"))
        var olderThan: String = "1h"

        mutating func validate() throws {
            _ = try duration(olderThan, option: "--older-than")
        }

        func run() throws {
            try Failure.report {
                if options.isFleet {
                    let scope = try options.fleetScope(), older = try duration(olderThan, option: "--older-than").milliseconds
                    let result = try options.fleetReport(.orphans(scope, olderThanMs: older), checking: scope)
                    try options.emit(result, keep: .newest)
                    return
                }
                let db = try options.open()
                try options.emit(try Reports.orphans(db, options.scope(db), olderThan: duration(olderThan, option: "--older-than")), keep: .newest)
            }
        }
    }
}
