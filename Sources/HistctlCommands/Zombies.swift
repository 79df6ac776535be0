import ArgumentParser
import Foundation
import HistModel
import HistReports

extension Histctl {
    struct Zombies: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "zombies",
            abstract: "Which processes left zombie children unreaped, for how long, and how many at once?",
            discussion: """
            From histd's system-wide scans; longest first. Each parent process is one row (a reused pid is another row). \
            Columns: parent_pid, parent_name, parent_cmdline, program (when the parent is a supervised program's process), \
            max_zombies, first_seen, last_seen, duration_s. A zombie reaped before the next scan is normal, so by default \
            a parent must be seen with zombies in 2 consecutive scans (--min-duration "2 scans"). --program keeps parents \
            that are that program's processes. Tables show the first 50 (-n/--limit N, --all).

            With --db postgres://... (a fleet database, docs/FLEET.md): the same rows per host across the fleet, a host \
            column first; --host NAME (repeatable) keeps those hosts.

            Examples:
              histctl zombies --since 6h
              histctl zombies --min-duration 5m --min-zombies 10 --program web
              histctl zombies --db postgres://histd@db.example/fleet --since 6h --host web1 --host web2
            """)

        @OptionGroup var options: CommonOptions

        @Option(help: ArgumentHelp("Only parents that kept zombies this long: a duration (30s, 5m) or a number of consecutive scans (\"3 scans\", 1scan shows everything).", valueName: "duration"))
        var minDuration: String = "2 scans"

        @Option(help: "Only parents that had at least this many zombies at once.")
        var minZombies: Int = 1

        mutating func validate() throws {
            _ = try filter()
            guard minZombies >= 1 else { throw ValidationError("--min-zombies must be at least 1") }
        }

        /// "N scans" / "Nscan(s)" or a duration.
        func filter() throws -> ZombieFilter {
            let text = minDuration.trimmingCharacters(in: .whitespaces).lowercased()
            for suffix in ["scans", "scan"] where text.hasSuffix(suffix) {
                guard let n = Int(text.dropLast(suffix.count).trimmingCharacters(in: .whitespaces)), n >= 1 else { break }
                return ZombieFilter(minScans: n, minDuration: .zero, minZombies: minZombies)
            }
            guard let d = TimeInput.duration(minDuration) else {
                throw ValidationError("invalid value \"\(minDuration)\" for --min-duration: expected a number of scans (\"2 scans\") or \(HistDuration.acceptedForms), or several (\"9m30s\")")
            }
            return ZombieFilter(minScans: 1, minDuration: d, minZombies: minZombies)
        }

        func run() throws {
            try Failure.report {
                if options.isFleet {
                    let scope = try options.fleetScope(), filter = try filter()
                    let result = try options.fleetReport(.zombies(scope, filter), checking: scope)
                    try options.emit(result)
                    return
                }
                let db = try options.open()
                try options.emit(try Reports.zombies(db, options.scope(db), filter: filter()))
            }
        }
    }
}
