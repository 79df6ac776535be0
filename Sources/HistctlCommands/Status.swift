import ArgumentParser
import Foundation
import HistModel
import HistReports

extension Histctl {
    struct Status: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "status",
            abstract: "What state is each program in: live from the running histd when it answers, else as far as the record knows.",
            discussion: """
            Live (histd answers on its control socket, and says so): name, state, pid, uptime, backoff remaining, \
            restarts, one row per program and per pool worker. Live is tried when the socket is named (--socket, \
            $HISTD_SOCKET, a --config with control_socket) or when no database is named (--db, $HISTD_DB); \
            --record skips it. --format json gives {"live":true,"histd_pid":N,"units":[...]}; csv has no "live" line.

            From the record (histd not answering): as of now (--since/--until are not used). Columns: program, kind, \
            state, pid, workers (pools only), uptime_s, restarts_1h (restarts that happened in the last hour), \
            last_exit_at, last_exit_code, last_signal, last_exit_class, last_event, last_snapshot, run_open. \
            States: running, stopping, backoff, failed (histd gave up; stays failed after shutdown), exited, stopped, \
            unknown (no end recorded but its supervisor run is over), never_started. If last_event and last_snapshot are \
            old while run_open is yes, histd may have died.

            --failed lists only programs that are failed, in backoff or unknown. --fail-if-found exits 3 when any \
            listed program is failed, in backoff or unknown (with or without --failed): the cron check "is anything broken".

            Examples:
              histctl status web jobs.0
              histctl status --failed --fail-if-found
            """)

        @Argument(help: "Programs, pools or pool workers (default: all).") var names: [String] = []
        @OptionGroup var options: CommonOptions
        @Option(help: ArgumentHelp("The control socket (default: $HISTD_SOCKET, the config's control_socket, then the default path).", valueName: "path"))
        var socket: String?
        @Flag(help: "Read the record only; do not ask histd.") var record = false

        @Flag(help: "Only programs that are failed, in backoff, or unknown.")
        var failed = false

        static let broken: Set<String> = ["failed", "backoff", "unknown"]

        /// The shipping line under the table (docs/FLEET.md, "Backpressure"): from histd-ship's state file
        /// beside the database, when it exists; plus the gaps retention recorded. `capturing`: the file
        /// captures changes for shipping, so a missing state file is worth a line too.
        static func shipLine(dbPath: String, gaps: (capturing: Bool, count: Int64, rows: Int64)?, now: Int64 = Timestamp.now().milliseconds) -> String? {
            var line: String
            switch ShipState.read(forDatabase: dbPath) {
            case .success(let s): line = s.line(now: now)
            case .failure(.missing):
                guard gaps?.capturing == true else { return nil }
                line = "ship: no state file from histd-ship yet (\(ShipState.path(forDatabase: dbPath))): nothing known shipped"
            case .failure(.unsafe(let why)), .failure(.unreadable(let why)): line = "ship: state file not used: \(why)"
            }
            if let gaps, gaps.count > 0 { line += "; \(gaps.count) ship gap(s), \(gaps.rows) unshipped rows deleted (SELECT * FROM ship_gaps)" }
            return line
        }

        /// Whether the file captures changes, and its ship_gaps (nil: an older schema without them).
        static func shipGaps(_ db: ReportDatabase) -> (capturing: Bool, count: Int64, rows: Int64)? {
            let sql = """
                SELECT (SELECT enabled FROM ship_capture WHERE id = 1), (SELECT count(*) FROM ship_gaps),
                       (SELECT coalesce(sum(rows), 0) FROM ship_gaps)
                """
            guard let row = (try? db.run(sql: sql, columns: nil, label: "ship_gaps"))?.rows.first, row.count == 3 else { return nil }
            func int(_ v: ReportValue) -> Int64 { if case .integer(let n) = v { n } else { 0 } }
            return (int(row[0]) == 1, int(row[1]), int(row[2]))
        }

        func run() throws {
            if options.isFleet {
                // Fleet: the latest state per host and program, from the fleet_status rollup (docs/FLEET.md).
                try Failure.report {
                    var fleetScope = try options.fleetScope()
                    fleetScope.programs += names
                    let scope = fleetScope, now = try options.times().now.milliseconds
                    let result = try options.fleetReport(.status(scope, now: now), checking: scope)
                    try options.emit(result)
                }
                return
            }
            if !record, let live = try live() {
                try printLive(live)
                return
            }
            try Failure.report {
                let db = try options.open()
                var scope = try options.scope(db)
                scope.programs += names
                var result = try Reports.status(db, scope)
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
                    if let ship = Self.shipLine(dbPath: db.path, gaps: Self.shipGaps(db)) { out += ship + "\n" }
                } else {
                    out = Renderer.render(shown, as: options.format, options: options.renderOptions())
                }
                print(out, terminator: "")
                try options.failIfNeeded(found: result.rows.contains(where: isBroken))
            }
        }

        /// The live answer, or nil when histd is not asked or does not answer: the reply line and its
        /// decoded fields.
        func live() throws -> (line: ArraySlice<UInt8>, status: LiveStatus)? {
            let env = options.environment
            var control = ControlOptions()
            control.socket = socket
            control.config = options.config
            let dbNamed = options.db != nil || !(env["HISTD_DB"] ?? "").isEmpty
            guard try control.explicit() || !dbNamed else { return nil }
            let client = try control.client()
            let request: [String: Any] = ["v": 1, "cmd": "status", "names": names + options.programs]
            do {
                let line = try client.sendLine(request, timeout: .seconds(10))
                let reply = try LiveStatus.decode(line)
                let result = reply.result ?? "failed"
                if result != "done" {
                    FileHandle.standardError.write(Data("histctl: \(reply.message ?? result)\n".utf8))
                    throw ExitCode(ControlClient.exitCode(result: result))
                }
                return (line, reply)
            } catch let e as ControlClient.Unreachable {
                if e.code == 77 {
                    FileHandle.standardError.write(Data("histctl: \(e.message)\n".utf8))
                    throw ExitCode(77)
                }
                FileHandle.standardError.write(Data("histctl: \(e.message); showing the record\n".utf8))
                return nil
            }
        }

        func printLive(_ live: (line: ArraySlice<UInt8>, status: LiveStatus)) throws {
            if options.format == .json {
                // Every key histd sent, as it sent it: the dictionary path.
                let reply = (try? JSONSerialization.jsonObject(with: Data(live.line)) as? [String: Any]) ?? [:]
                let isBroken = { (u: [String: Any]) in Self.broken.contains(u["state"] as? String ?? "") }
                var units = reply["units"] as? [[String: Any]] ?? []
                if failed { units = units.filter(isBroken) }
                var object: [String: Any] = ["live": true, "histd_pid": reply["histd_pid"] ?? NSNull(), "units": units]
                // histd-ship's state file beside the database, when there is one (docs/FLEET.md, "Backpressure").
                if let db = options.localDatabasePath(), case .success(let s) = ShipState.read(forDatabase: db) {
                    object["ship"] = Self.shipJSON(s)
                }
                let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
                print(String(decoding: data, as: UTF8.self))
                return
            }
            let isBroken = { (u: LiveStatus.Unit) in Self.broken.contains(u.state ?? "") }
            var units = live.status.units ?? []
            if failed { units = units.filter(isBroken) }
            if options.format == .csv {
                print(LiveStatus.csv(units), terminator: "")
                if options.failIfFound && !units.isEmpty { throw ExitCode(3) }
                return
            }
            print(LiveStatus.table(units, histdPid: live.status.histdPid ?? 0), terminator: "")
            // Only when histd-ship's state file is there and trusted (a host without [ship] sees no extra line).
            if let db = options.localDatabasePath(), case .success(let s) = ShipState.read(forDatabase: db) {
                print(s.line(now: Timestamp.now().milliseconds))
            }
            // The same rule as the record: exit 3 only when something is broken.
            if options.failIfFound && units.contains(where: isBroken) { throw ExitCode(3) }
        }
    }
}

extension Histctl.Status {
    static func shipJSON(_ s: ShipState) -> [String: Any] {
        ["state": s.state, "reason": s.reason ?? NSNull(), "backlog_rows": s.backlogRows, "epoch": s.epoch, "host_id": s.hostID,
         "outbox_seq": s.outboxSeq ?? NSNull(), "event_id": s.eventID ?? NSNull(), "updated_at": s.updatedAt,
         "last_success_at": s.lastSuccessAt ?? NSNull(), "oldest_unshipped_at": s.oldestUnshippedAt ?? NSNull()] as [String: Any]
    }
}
