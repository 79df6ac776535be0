import ArgumentParser
import HistReports

extension Histctl {
    struct Status: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "What state is each program in as far as the record knows, and how fresh is the record?",
            discussion: """
            As of now (--since/--until are not used). Columns: program, kind, state, pid, workers, uptime_s, restarts_1h, \
            last_exit_at, last_exit_code, last_signal, last_exit_class, last_event, last_snapshot, run_open. \
            States: running, stopping, backoff, failed, exited, stopped, unknown (no end recorded but its supervisor run is \
            over), never_started. If last_event and last_snapshot are old while run_open is yes, histd may have died.

            Example: histctl status --program web
            """)

        @OptionGroup var options: CommonOptions

        func run() throws {
            try Failure.report {
                let db = try options.open()
                try options.emit(try Reports.status(db, options.scope()))
            }
        }
    }
}
