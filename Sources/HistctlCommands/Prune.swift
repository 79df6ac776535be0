import ArgumentParser
import Foundation
import HistConfig
import HistModel
import HistReports

extension Histctl {
    struct Prune: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "prune",
            abstract: "Delete history older than the retention periods now, instead of waiting for histd's hourly pass. This is the one histctl command that WRITES to the database.",
            discussion: """
            Deletes events, instances, scans, zombie and orphan intervals older than --retention, and sampling sweeps \
            with their snapshots older than --snapshot-retention, 1,000 rows per transaction so that a running histd \
            keeps recording in between. Supervisor runs, programs and their configs are kept. The defaults are the \
            `retention` and `snapshot_retention` of --config FILE when given, else 30d and 7d. Like every histctl \
            command it never creates a database, and refuses a file that is not a histd history. Prints the rows \
            deleted per table (--format table, json or csv).

            Example: histctl prune --db /var/lib/histd/history.db --retention 14d --snapshot-retention 2d
            """)

        @Option(name: .long, help: ArgumentHelp("The history database (default: $HISTD_DB, then the config's db, then the default path).", valueName: "path"))
        var db: String?

        @Option(name: .long, help: ArgumentHelp("A histd config file: its `db`, `retention` and `snapshot_retention` are the defaults.", valueName: "file"))
        var config: String?

        @Option(help: ArgumentHelp("Delete events, instances, scans, zombie and orphan intervals older than this (default: the config's retention, else 30d).", valueName: "duration"))
        var retention: String?

        @Option(help: ArgumentHelp("Delete sweeps and snapshots older than this (default: the config's snapshot_retention, else 7d).", valueName: "duration"))
        var snapshotRetention: String?

        @Option(help: ArgumentHelp("While the file captures changes for histd-ship: keep rows it has not shipped, past --retention, up to this size; past it the oldest go and a ship_gaps row records them (default: the config's [ship] ship_max_backlog, else 1G; 0 keeps none).", valueName: "size"))
        var shipMaxBacklog: String?

        @Option(help: "Output format: table for people, json or csv for scripts.")
        var format: OutputFormat = .table

        /// Pins "now" (tests).
        @Option(help: .hidden)
        var now: String?

        mutating func validate() throws {
            if let retention { _ = try duration(retention, option: "--retention") }
            if let snapshotRetention { _ = try duration(snapshotRetention, option: "--snapshot-retention") }
            if let s = shipMaxBacklog, ByteSize.parse(s) == nil { throw ValidationError("--ship-max-backlog: expected \(ByteSize.acceptedForms)") }
        }

        func run() throws {
            let env = ProcessInfo.processInfo.environment
            let zone = TimeText.zone(environment: env)
            let loaded = try config.map { try loadConfig($0) }
            let spec = loaded?.supervisor
            let cap = shipMaxBacklog.flatMap(ByteSize.parse) ?? loaded?.ship?.maxBacklog ?? ShipSpec.defaultMaxBacklog
            let location = DatabaseLocation.resolve(flag: db, environment: env, configDB: spec?.db)
            let defaults = SupervisorSpec()
            let keep = try retention.map { try duration($0, option: "--retention") } ?? spec?.retention ?? defaults.retention
            let keepSnapshots = try snapshotRetention.map { try duration($0, option: "--snapshot-retention") }
                ?? spec?.snapshotRetention ?? defaults.snapshotRetention
            let at: Timestamp
            do {
                at = try now.map { try TimeInput.parse($0, option: "--now", now: .now(), zone: zone) } ?? .now()
            } catch let e as TimeInput.ParseError {
                throw ValidationError(e.description)
            }
            try Failure.report {
                do {
                    let result = try Pruning.prune(path: location.path, now: at, retention: keep, snapshotRetention: keepSnapshots,
                                                   shipMaxBacklog: cap, shipSnapshots: loaded?.ship?.snapshots != nil) { g in
                        FileHandle.standardError.write(Data("histctl: \(g.rows) rows not shipped yet were deleted past ship_max_backlog; \(g.gaps) ship_gaps row(s) record them (docs/FLEET.md)\n".utf8))
                    }
                    let color = RenderOptions.colorWanted(environment: env, isTTY: isatty(STDOUT_FILENO) == 1)
                    print(Renderer.render(result, as: format, options: RenderOptions(zone: zone, color: color)), terminator: "")
                } catch let error as ReportError {
                    throw Failure(error.description + (location.source == .flag ? "" : " (path from \(location.source.rawValue))"))
                }
            }
        }
    }
}
