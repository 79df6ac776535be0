import ArgumentParser
import Foundation
import HistModel
import HistReports

extension Histctl {
    struct Top: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "top",
            abstract: "What were the supervised processes doing at a past moment: CPU, memory, threads, fds?",
            discussion: """
            Time travel: uses the sampling sweep nearest to --at, and says how far it is from --at. When nothing was \
            sampled within max(3 x the sampling interval, 1 min) of --at (histd was not running, or the moment is \
            outside the history), no rows are shown and a note names the nearest sample's time. CPU% comes from the tick \
            delta to the previous sample of the same instance (100% = one core). Below the processes, the system scan \
            nearest to --at (counts by state, total RSS), under the same rule. Tables show 20 processes (-n/--limit N, \
            --all). JSON: {"at", "sweep": {"time", "offset_s", "near"} or null, "processes": [...], "scan_sample": ..., \
            "scan": {...} or null}; CSV: the processes only.

            Example: histctl top --at "2026-11-21 03:14" --sort rss --limit 10
            """)

        @OptionGroup var options: CommonOptions

        @Option(help: ArgumentHelp("The moment to look at, same forms as --since (default: now).", valueName: "time"))
        var at: String?

        @Option(help: "Sort by CPU% or resident memory.")
        var sort: TopSort = .cpu

        mutating func validate() throws {
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
                let limit = options.all ? Int.max : options.limit ?? 20
                let top = try Reports.top(db, at: moment(), sort: sort, limit: limit, programs: options.programs,
                                          workerPools: options.checkedPrograms(db))
                let (processes, scan) = (top.processes, top.scan)
                let render = options.renderOptions()
                switch options.format {
                case .table:
                    let notes = top.notes(zone: options.zone)
                    var out = notes.processes + "\n"
                    if !processes.isEmpty { out += Renderer.table(processes, options: render) }
                    out += "\n" + notes.scan + "\n"
                    if !scan.isEmpty { out += Renderer.table(scan, options: render) }
                    print(out, terminator: "")
                case .csv:
                    print(Renderer.csv(processes), terminator: "")
                case .html:
                    print(Renderer.render(processes, as: .html, options: RenderOptions(zone: options.zone)), terminator: "")
                case .json:
                    func sample(_ s: NearestSample?) -> String {
                        guard let s else { return "null" }
                        return Renderer.jsonObject(columns: ["time", "offset_s", "near"],
                                                   row: [.time(s.time), .real(Double(s.offset.milliseconds) / 1000), .bool(s.isNear)])
                    }
                    let scanJSON = scan.isEmpty ? "null" : Renderer.jsonObject(columns: scan.columns.map(\.name), row: scan.rows[0])
                    let rows = processes.rows.map { "    " + Renderer.jsonObject(columns: processes.columns.map(\.name), row: $0) }
                    let list = rows.isEmpty ? "[]" : "[\n" + rows.joined(separator: ",\n") + "\n  ]"
                    print("{\n  \"at\": \(Renderer.jsonValue(.time(top.at))),\n  \"sweep\": \(sample(top.sweep)),\n"
                          + "  \"processes\": \(list),\n  \"scan_sample\": \(sample(top.scanSample)),\n  \"scan\": \(scanJSON)\n}")
                }
                try options.failIfNeeded(found: !processes.isEmpty)
            }
        }
    }
}
