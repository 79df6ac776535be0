import ArgumentParser
import HistReports

extension Histctl {
    struct Zombies: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Which processes left zombie children unreaped, for how long, and how many at once?",
            discussion: """
            From histd's system-wide scans; longest first. Each parent process is one row (a reused pid is another row). \
            Columns: parent_pid, parent_name, parent_cmdline, max_zombies, first_seen, last_seen, duration_s. \
            --program does not apply.

            Example: histctl zombies --since 6h
            """)

        @OptionGroup var options: CommonOptions

        mutating func validate() throws {
            if !options.programs.isEmpty { throw ValidationError("--program does not apply to zombies (zombie parents are any process on the machine)") }
        }

        func run() throws {
            try Failure.report {
                let db = try options.open()
                try options.emit(try Reports.zombies(db, options.scope()))
            }
        }
    }
}
