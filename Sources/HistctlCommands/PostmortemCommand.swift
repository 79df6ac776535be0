import ArgumentParser
import Foundation
import HistModel
import HistReports

extension Histctl {
    struct PostmortemCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "postmortem",
            abstract: "What happened in this window, and is the record of it complete? An incident report.",
            discussion: """
            Markdown by default (paste it into the incident doc), JSON with --format json, and with --format html one \
            self-contained page (inline SVG and CSS, no JavaScript) with a timeline and memory/CPU charts per program, \
            to attach to a ticket or print. It calls out every recording \
            gap and unclean histd end first ("the record is incomplete between X and Y"), then supervisor runs, crash \
            clusters (2+ crashes within 10 minutes), crashes, limit breaches, zombie and orphan sightings, per-program \
            RSS and CPU sparklines, and the merged event timeline. --fail-if-found exits 3 when there were crashes, \
            breaches or gaps.

            Example: histctl postmortem --since "2026-11-21 03:00" --until "2026-11-21 04:00" > incident.md
            Example: histctl postmortem --since "2026-11-21 03:00" --until "2026-11-21 04:00" --format html > incident.html

            With --db postgres://... (docs/FLEET.md) it reports over the shipped history of every host, or of those \
            given with --host NAME (repeatable): every table gains a host column, the completeness notes also name rows a \
            host deleted before it shipped them (ship_gaps), where each host's shipped record begins, and the time since a \
            host's shipper last caught up when that is over a minute (a stopped shipper is not a quiet host), and the charts \
            come from the snapshots hosts ship with [ship] ship_snapshots (none otherwise; no limit lines, since \
            program configs are not shipped).

            Example: histctl --db postgres://histd@db/fleet postmortem --host web-3 --since "2026-11-21 03:00" --until "2026-11-21 04:00"
            """)

        @OptionGroup var options: CommonOptions

        mutating func validate() throws {
            if options.format == .csv { throw ValidationError("postmortem writes Markdown (--format table), JSON (--format json) or HTML (--format html), not CSV") }
        }

        func run() throws {
            try Failure.report {
                let report: Postmortem
                if options.isFleet {
                    let scope = try options.fleetScope()
                    guard case .postmortem(let r) = try options.fleet(.postmortem(scope, now: Timestamp.now().milliseconds), checking: scope) else {
                        throw Failure("the fleet backend gave no postmortem")
                    }
                    report = r
                } else {
                    let db = try options.open()
                    report = try Postmortem.build(db, options.scope(db))
                }
                switch options.format {
                case .json: print(report.json(), terminator: "")
                case .html: print(report.html(zone: options.zone), terminator: "")
                case .table, .csv: print(report.markdown(zone: options.zone), terminator: "")
                }
                try options.failIfNeeded(found: !report.crashes.isEmpty || !report.breaches.isEmpty || !report.incomplete.isEmpty)
            }
        }
    }
}
