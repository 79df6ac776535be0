import ArgumentParser
import HistReports

extension Histctl {
    struct Status: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "What state is each program in as far as the record knows, and how fresh is the record?",
            discussion: """
            As of now (--since/--until are not used). Columns: program, kind, state, pid, workers (pools only), uptime_s, \
            restarts_1h (restarts that happened in the last hour), last_exit_at, last_exit_code, last_signal, \
            last_exit_class, last_event, last_snapshot, run_open. \
            States: running, stopping, backoff, failed (histd gave up; stays failed after shutdown), exited, stopped, \
            unknown (no end recorded but its supervisor run is over), never_started. If last_event and last_snapshot are \
            old while run_open is yes, histd may have died.

            --failed lists only programs that are failed, in backoff or unknown. --fail-if-found exits 3 when any \
            listed program is failed, in backoff or unknown (with or without --failed): the cron check "is anything broken".

            Examples:
              histctl status --program web
              histctl status --failed --fail-if-found
            """)

        @OptionGroup var options: CommonOptions

        @Flag(help: "Only programs that are failed, in backoff, or unknown.")
        var failed = false

        static let broken: Set<String> = ["failed", "backoff", "unknown"]

        func run() throws {
            try Failure.report {
                let db = try options.open()
                var result = try Reports.status(db, options.scope(db))
                let state = result.columns.firstIndex { $0.name == "state" }!
                let isBroken = { (row: [ReportValue]) in
                    if case .text(let s) = row[state] { Self.broken.contains(s) } else { false }
                }
                if failed { result.rows = result.rows.filter(isBroken) }
                let (shown, more) = result.limited(to: options.rowLimit(), keep: .first)
                var out: String
                if options.format == .table {
                    // The record's freshness is the same on every row: one line under the table.
                    let (table, freshness) = StatusTable.split(shown, zone: options.zone)
                    out = Renderer.table(table, options: options.renderOptions())
                    if more > 0 { out += Renderer.moreFooter(more) }
                    if let freshness { out += freshness + "\n" }
                } else {
                    out = Renderer.render(shown, as: options.format, options: options.renderOptions())
                }
                print(out, terminator: "")
                try options.failIfNeeded(found: result.rows.contains(where: isBroken))
            }
        }
    }
}
