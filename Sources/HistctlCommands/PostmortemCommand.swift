import ArgumentParser
import Foundation
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

            Local only: with --db postgres://... it exits 64 (the central database has no snapshots for the charts and no \
            scans; docs/FLEET.md, "Not done yet"). Run it on the host, or ask the fleet with crashes, loops, breaches, \
            zombies and orphans --host NAME.
            """)

        @OptionGroup var options: CommonOptions

        mutating func validate() throws {
            if options.format == .csv { throw ValidationError("postmortem writes Markdown (--format table), JSON (--format json) or HTML (--format html), not CSV") }
        }

        func run() throws {
            try Failure.report {
                if let url = options.fleetURL {
                    throw UsageFailure("postmortem has no fleet version yet (no snapshots or scans are shipped): run it on the host itself, or ask \(url) with crashes, loops, breaches, zombies or orphans --host NAME (docs/FLEET.md)")
                }
                let db = try options.open()
                let report = try Postmortem.build(db, options.scope(db))
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
