import ArgumentParser
import HistModel
import HistReports

extension Histctl {
    struct Loops: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "loops",
            abstract: "Which programs are (or were) in a crash loop: at least N crashes inside one sliding window?",
            discussion: """
            Crashes include limit kills; a pool's workers count together. Columns: program, crashes, first, last, \
            longest_uptime_s, max_restart_delay_s, gave_up, state (last known).

            Example: histctl loops --since 7d --min-crashes 5 --window 5m
            """)

        @OptionGroup var options: CommonOptions

        @Option(help: "Crashes needed inside one window.")
        var minCrashes: Int = 3

        @Option(help: ArgumentHelp("Length of the sliding window (30s, 10m, 1h, ...).", valueName: "duration"))
        var window: String = "10m"

        mutating func validate() throws {
            guard minCrashes >= 1 else { throw ValidationError("--min-crashes must be at least 1") }
            guard try duration(window, option: "--window") > .zero else { throw ValidationError("--window must be longer than 0") }
        }

        func run() throws {
            try Failure.report {
                if options.isFleet {
                    // Fleet: per host (docs/FLEET.md), a `host` column first.
                    let scope = try options.fleetScope(), minCrashes = minCrashes
                    let windowMs = try duration(window, option: "--window").milliseconds
                    let result = try options.fleetReport(.loops(scope, windowMs: windowMs, minCrashes: minCrashes), checking: scope)
                    try options.emit(result, keep: .first)
                    return
                }
                let db = try options.open()
                try options.emit(try Reports.loops(db, options.scope(db), window: duration(window, option: "--window"), minCrashes: minCrashes), keep: .first)
            }
        }
    }
}
