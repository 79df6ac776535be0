import ArgumentParser
import Foundation
import HistReports

extension Histctl {
    struct PostmortemCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "postmortem",
            abstract: "What happened in this window, and is the record of it complete? An incident report.",
            discussion: """
            Markdown by default (paste it into the incident doc), JSON with --format json. It calls out every recording \
            gap and unclean histd end first ("the record is incomplete between X and Y"), then supervisor runs, crash \
            clusters (2+ crashes within 10 minutes), crashes, limit breaches, zombie and orphan sightings, per-program \
            RSS and CPU sparklines, and the merged event timeline. --fail-if-found exits 3 when there were crashes, \
            breaches or gaps.

            Example: histctl postmortem --since "2026-11-21 03:00" --until "2026-11-21 04:00" > incident.md
            """)

        @OptionGroup var options: CommonOptions

        mutating func validate() throws {
            if options.format == .csv { throw ValidationError("postmortem writes Markdown (--format table) or JSON (--format json), not CSV") }
        }

        func run() throws {
            try Failure.report {
                let db = try options.open()
                let report = try Postmortem.build(db, options.scope(db))
                print(options.format == .json ? report.json() : report.markdown(zone: options.zone), terminator: "")
                try options.failIfNeeded(found: !report.crashes.isEmpty || !report.breaches.isEmpty || !report.incomplete.isEmpty)
            }
        }
    }
}
