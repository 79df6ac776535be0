import ArgumentParser
import HistReports

extension Histctl {
    struct Crashes: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "crashes",
            abstract: "Which processes crashed (or were killed for a limit), when, how, and what they printed last?",
            discussion: """
            One row per ended process: a pid reused by two processes gives two rows. \
            Columns: time, program, pid, exit_code, signal, core_dumped, uptime_s, restart_delay_s (null when histd gave \
            up), reason (crash or limit), stderr_tail. --summary: program, crashes, limit_kills, first, last, exit_codes, signals.

            Tables show the newest 50 crashes (-n/--limit N, --all), durations as 1m12s and the stderr tail's last line, \
            cut to the terminal width ($COLUMNS or the terminal's size; --wide shows everything). JSON and CSV have every \
            row, seconds as numbers and whole tails. --last shows the newest crash (or the newest N with -n N) as a block \
            with its whole stderr tail: the answer to "why did web crash?".

            Examples:
              histctl crashes --since 2h --program web --format json
              histctl crashes --program web --last
              histctl crashes --program jobs.0 --last -n 3 --since yesterday
            """)

        @OptionGroup var options: CommonOptions

        @Flag(help: "Group by program: count, first, last, distinct exit codes and signals.")
        var summary = false

        @Flag(help: "Show the newest crash (with -n N: the newest N) as a block with its whole stderr tail.")
        var last = false

        mutating func validate() throws {
            if summary && last { throw ValidationError("give either --summary or --last") }
        }

        func run() throws {
            try Failure.report {
                if options.isFleet {
                    // Fleet: one report across hosts (docs/FLEET.md), a `host` column first.
                    if last { throw UsageFailure("--last is not available with a fleet database yet: use --format json") }
                    let scope = try options.fleetScope(), summary = summary, limit = options.rowLimit()
                    let result = try options.fleetReport(.crashes(scope, summary: summary, newest: summary ? nil : limit), checking: scope)
                    try options.emit(result, keep: .newest)
                    return
                }
                let db = try options.open()
                let scope = try options.scope(db)
                if last {
                    // The newest N only: their rows are read, and one index-only count for "k of total".
                    let n = options.all ? nil : options.limit ?? 1
                    let shown = try Reports.crashes(db, scope, newest: n)
                    let total = n == nil ? shown.rows.count : try Reports.crashCount(db, scope)
                    if options.format == .table {
                        print(RecordView.render(shown, title: { k in
                            let program = shown.value(k, "program"), pid = shown.value(k, "pid")
                            let name = if case .text(let p) = program { Renderer.visible(p) } else { "?" }
                            let p = if case .integer(let v) = pid { " pid \(v)" } else { "" }
                            return "Crash \(total - shown.rows.count + k + 1) of \(total): \(name)\(p)"
                        }, options: options.renderOptions()), terminator: "")
                    } else {
                        print(Renderer.render(shown, as: options.format, options: options.renderOptions()), terminator: "")
                    }
                    try options.failIfNeeded(found: total > 0)
                    return
                }
                if summary {
                    try options.emit(try Reports.crashes(db, scope, summary: true))
                    return
                }
                // JSON and CSV of every row: written from the query's rows as bytes (no cells built).
                if options.rowLimit() == nil, let listing = try Reports.crashListing(db, scope, format: options.format) {
                    try options.write(listing.bytes)
                    try options.failIfNeeded(found: listing.rows > 0)
                    return
                }
                // A table shows the newest 50 of maybe tens of thousands: the query picks them (index-only)
                // and a count says how many more there are.
                let limit = options.rowLimit()
                let result = try Reports.crashes(db, scope, newest: limit)
                var more = 0
                if let limit, result.rows.count == limit { more = try Reports.crashCount(db, scope) - limit }
                try options.emit(result, keep: .newest, alreadyLimited: more)
            }
        }
    }
}
