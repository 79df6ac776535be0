import ArgumentParser
import HistReports

extension Histctl {
    struct Crashes: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Which processes crashed (or were killed for a limit), when, how, and what they printed last?",
            discussion: """
            One row per ended process: a pid reused by two processes gives two rows. \
            Columns: time, program, pid, exit_code, signal, core_dumped, uptime_s, restart_delay_s (null when histd gave \
            up), reason (crash or limit), stderr_tail. --summary: program, crashes, limit_kills, first, last, exit_codes, signals.

            Example: histctl crashes --since 2h --program web --format json
            """)

        @OptionGroup var options: CommonOptions

        @Flag(help: "Group by program: count, first, last, distinct exit codes and signals.")
        var summary = false

        func run() throws {
            try Failure.report {
                let db = try options.open()
                try options.emit(try Reports.crashes(db, options.scope(), summary: summary))
            }
        }
    }
}
