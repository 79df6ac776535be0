import ArgumentParser
import Foundation
import HistModel
import HistReports

#if canImport(Glibc)
import Glibc
#endif

extension Histctl {
    struct Events: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "events",
            abstract: "The event log, one line per event: time, program, pid, event, detail; --follow streams new ones.",
            discussion: """
            Times are UTC with milliseconds. A pool worker is named as the logs name it (jobs.0); --program jobs keeps \
            every worker of pool jobs, --program jobs.0 one worker. --format json prints NDJSON: one object per line with \
            id, time, ts (ms), program, pid, event, value, detail (the stored JSON object) and summary.

            --follow prints what is recorded from then on, polling the database (read-only) every 200 ms, so a new \
            event shows within about a second of histd's writer committing it (it batches for at most ~100 ms).

            Examples:
              histctl events --since 1h
              histctl events --follow --program web
              histctl events --since 10m --format json | jq .event
            """)

        @Option(help: ArgumentHelp("The history database (default: $HISTD_DB, then the config's db, then the default path).", valueName: "path"))
        var db: String?
        @Option(help: ArgumentHelp("A histd config file whose `db` names the database.", valueName: "file")) var config: String?
        @Option(help: ArgumentHelp("Start: a duration ago (30s, 15m, 1h, 1d) or a time (default 1h; with --follow and no --since: only new events).", valueName: "time"))
        var since: String?
        @Option(name: .customLong("program"), help: ArgumentHelp("Only this program, pool or worker (jobs.0); repeat for several.", valueName: "name"))
        var programs: [String] = []
        @Option(help: "Output format: table (one line per event) or json (NDJSON).") var format: EventFormat = .table
        @Flag(help: "Keep printing new events as they are recorded.") var follow = false

        enum EventFormat: String, ExpressibleByArgument, CaseIterable { case table, json }

        func validate() throws {
            if let since { _ = try parseSince(since) }
        }

        func parseSince(_ text: String) throws -> Timestamp {
            do {
                return try TimeInput.parse(text, option: "--since", now: .now(), zone: TimeText.zone(environment: ProcessInfo.processInfo.environment))
            } catch let e as TimeInput.ParseError {
                throw ValidationError(e.description)
            }
        }

        func run() throws {
            try Failure.report {
                var options = try CommonOptions.parse(db.map { ["--db", $0] } ?? [])
                options.config = config
                let database = try options.open()
                var lastID: Int64 = -1
                var lastTS = Timestamp(milliseconds: 0)
                if let since {
                    lastTS = try parseSince(since)
                } else if follow {
                    // Only what comes from now on: start after the newest event.
                    let newest = try EventFeed.fetch(database, since: Timestamp(milliseconds: Timestamp.now().milliseconds - 3_600_000))
                    lastID = newest.last?.id ?? -1
                    lastTS = .now()
                } else {
                    lastTS = Timestamp(milliseconds: Timestamp.now().milliseconds - 3_600_000)
                }
                var batch = try EventFeed.fetch(database, since: lastTS, afterID: lastID, programs: programs, limit: follow ? 10_000 : 1_000_000)
                while true {
                    // Written unbuffered, batch by batch: a pipe reader sees each event as soon as it is read.
                    if !batch.isEmpty { FileHandle.standardOutput.write(Data(batch.map { line($0) + "\n" }.joined().utf8)) }
                    if let last = batch.last { lastID = last.id }
                    guard follow else { return }
                    usleep(200_000)
                    // Events commit in id order, but a sampler or scan event can carry a time a little before
                    // an engine event committed earlier: look back a minute by time, forward by id.
                    let floor = Timestamp(milliseconds: min(lastTS.milliseconds, Timestamp.now().milliseconds - 60_000))
                    batch = try EventFeed.fetch(database, since: floor, afterID: lastID, programs: programs)
                }
            }
        }

        func line(_ e: EventFeed.Event) -> String {
            switch format {
            case .table:
                let pid = e.pid.map(String.init) ?? "-"
                return "\(TimeText.iso(e.time))  \(pad(e.program ?? "-", 16)) \(pad(pid, 7)) \(pad(e.event, 17)) \(e.summary)"
            case .json:
                var fields = [
                    "\"id\":\(e.id)",
                    "\"time\":\(Renderer.jsonString(TimeText.iso(e.time)))",
                    "\"ts\":\(e.time.milliseconds)",
                    "\"program\":\(e.program.map(Renderer.jsonString) ?? "null")",
                    "\"pid\":\(e.pid.map(String.init) ?? "null")",
                    "\"event\":\(Renderer.jsonString(e.event))",
                    "\"value\":\(e.value.map(String.init) ?? "null")",
                ]
                // The stored detail is a JSON object written by histd: embed it as is.
                fields.append("\"detail\":\(e.detailJSON ?? "null")")
                fields.append("\"summary\":\(Renderer.jsonString(e.summary))")
                return "{" + fields.joined(separator: ",") + "}"
            }
        }

        func pad(_ s: String, _ width: Int) -> String {
            s.count >= width ? s : s + String(repeating: " ", count: width - s.count)
        }
    }
}
