import ArgumentParser
import Foundation
import HistModel
import HistReports

extension Histctl {
    struct Top: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "What were the supervised processes doing at a past moment: CPU, memory, threads, fds?",
            discussion: """
            Time travel: uses the sampling sweep nearest to --at. CPU% comes from the tick delta to the previous sample of \
            the same instance (100% = one core). Below the processes, the system scan nearest to --at (counts by state, \
            total RSS). JSON: {"processes": [...], "scan": {...} or null}; CSV: the processes only.

            Example: histctl top --at "2026-11-21 03:14" --sort rss --limit 10
            """)

        @OptionGroup var options: CommonOptions

        @Option(help: ArgumentHelp("The moment to look at, same forms as --since (default: now).", valueName: "time"))
        var at: String?

        @Option(help: "Sort by CPU% or resident memory.")
        var sort: TopSort = .cpu

        @Option(help: "Show at most this many processes.")
        var limit: Int = 20

        mutating func validate() throws {
            guard limit >= 1 else { throw ValidationError("--limit must be at least 1") }
            _ = try moment()
        }

        func moment() throws -> Timestamp {
            let now = try options.times().now
            guard let at else { return now }
            do {
                return try TimeInput.parse(at, option: "--at", now: now, zone: options.zone)
            } catch {
                throw ValidationError(error.description)
            }
        }

        func run() throws {
            try Failure.report {
                let db = try options.open()
                let (processes, scan) = try Reports.top(db, at: moment(), sort: sort, limit: limit, programs: options.programs)
                let color = RenderOptions.colorWanted(environment: options.environment, isTTY: isatty(STDOUT_FILENO) == 1)
                switch options.format {
                case .table:
                    var out = Renderer.table(processes, options: RenderOptions(zone: options.zone, color: color))
                    out += "\nscan:\n" + (scan.isEmpty ? "(no scan recorded)\n" : Renderer.table(scan, options: RenderOptions(zone: options.zone, color: color)))
                    print(out, terminator: "")
                case .csv:
                    print(Renderer.csv(processes), terminator: "")
                case .html:
                    print(Renderer.render(processes, as: .html, options: RenderOptions(zone: options.zone)), terminator: "")
                case .json:
                    let scanJSON = scan.isEmpty ? "null" : Renderer.jsonObject(columns: scan.columns.map(\.name), row: scan.rows[0])
                    let rows = processes.rows.map { "    " + Renderer.jsonObject(columns: processes.columns.map(\.name), row: $0) }
                    let list = rows.isEmpty ? "[]" : "[\n" + rows.joined(separator: ",\n") + "\n  ]"
                    print("{\n  \"processes\": \(list),\n  \"scan\": \(scanJSON)\n}")
                }
                try options.failIfNeeded(found: !processes.isEmpty)
            }
        }
    }
}
