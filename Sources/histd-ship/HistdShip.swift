import ArgumentParser
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import HistFleet
import HistModel
import Logging

@main
struct HistdShip: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "histd-ship",
        abstract: "Ship this host's histd history to a central PostgreSQL, exactly once (docs/FLEET.md).",
        discussion: """
        Reads the local history database read-only (the rows its writer recorded in ship_outbox, and events by id) \
        and copies them to PostgreSQL in batches (with --snapshots, also the first sweep of each interval and its \
        per-process snapshots, tailed by sweep id); each batch and the host's central cursor commit in one \
        transaction, so a crash, a kill -9 or an outage never loses or duplicates a row. Applies the central \
        migrations (migrations/postgres) first. Retries a failing server with capped backoff (1 s to 30 s) and \
        logs once per change of state. The password comes from --password-file or PGPASSFILE (~/.pgpass), never \
        from the URL.

        Examples:
          histd-ship --db /var/lib/histd/history.db --url postgres://histd@db.example:5432/fleet
          histd-ship --db ./history.db --url postgres://histd@127.0.0.1/fleet --once
        """)

    @Option(help: ArgumentHelp("The local history database.", valueName: "path"))
    var db: String

    @Option(help: ArgumentHelp("The central PostgreSQL: postgres://user@host:port/dbname[?sslmode=disable|prefer|require].", valueName: "url"))
    var url: String

    @Option(help: ArgumentHelp("A file whose first line is the PostgreSQL password (default: PGPASSFILE, then ~/.pgpass).", valueName: "file"))
    var passwordFile: String?

    @Option(help: ArgumentHelp("This host's name in the fleet (default: the hostname).", valueName: "name"))
    var hostID: String?

    /// 20,000 by default: each batch costs the server a fixed part (the rollup triggers' lookups, a commit),
    /// and a 300,000-event backlog shipped in 7.1-7.6 s at 20,000 against 9.5-10.2 s at 5,000, for a peak
    /// RSS of 60-61 against 47 MB (BENCHMARKS.md). A caught-up shipper's batches are what arrived since
    /// its last poll.
    @Option(help: "Outbox entries and events per batch (each batch is one central transaction; a larger one ships a backlog faster and needs more memory).")
    var batch: Int = 20_000

    @Option(help: ArgumentHelp("Ship snapshots too, one sweep per interval (the first sweep of each), or \"off\" ([ship] ship_snapshots; at least 1s).", valueName: "duration"))
    var snapshots: String = "off"

    @Option(help: ArgumentHelp("How often to look for new rows once caught up, in milliseconds.", valueName: "ms"))
    var pollMs: Int = 250

    @Flag(help: "Ship until caught up, then exit (0: everything shipped; 1: the server failed).")
    var once = false

    mutating func validate() throws {
        if batch < 1 { throw ValidationError("--batch must be at least 1") }
        if pollMs < 10 { throw ValidationError("--poll-ms must be at least 10") }
        if let h = hostID, h.isEmpty { throw ValidationError("--host-id must not be empty") }
        _ = try snapshotEveryMs()
    }

    /// `--snapshots` in ms, nil for "off".
    func snapshotEveryMs() throws -> Int64? {
        if snapshots.lowercased() == "off" { return nil }
        guard let d = try? HistDuration.parse(snapshots) else {
            throw ValidationError("--snapshots: expected \"off\" or \(HistDuration.acceptedForms)")
        }
        guard d >= .seconds(1) else { throw ValidationError("--snapshots must be at least 1s (or \"off\")") }
        return d.milliseconds
    }

    func run() async throws {
        var logger = Logger(label: "histd-ship")
        logger.logLevel = .info
        let fleetURL: FleetURL
        do {
            fleetURL = try FleetURL(url, passwordFile: passwordFile)
        } catch {
            FileHandle.standardError.write(Data("histd-ship: \(error)\n".utf8))
            throw ExitCode(2)
        }
        let say = { (s: String) in FileHandle.standardError.write(Data("histd-ship: \(s)\n".utf8)) }
        let host = hostID ?? ProcessInfo.processInfo.hostName
        let every = try snapshotEveryMs()
        // The local database may not be ready yet (histd starting, migrating it to 0012): wait for it
        // with the same backoff, saying so once; --once fails at once instead.
        var shipper: Shipper
        var waitBackoff = 0.2
        var lastWait: String? = nil
        while true {
            do {
                shipper = try Shipper(path: db, hostID: host, batch: batch, snapshotEveryMs: every, logger: logger)
                break
            } catch {
                if once {
                    say(error.description)
                    throw ExitCode(2)
                }
                if error.description != lastWait {
                    say("waiting for the local history: \(error.description)")
                    lastWait = error.description
                }
                try await Task.sleep(for: .seconds(waitBackoff))
                waitBackoff = min(waitBackoff * 2, 30)
            }
        }
        say("shipping \(db) as host \(shipper.hostID) (epoch \(shipper.epoch)) to \(fleetURL)")
        // The state file beside the database (ShipState): what this process last committed centrally, for
        // local retention (it keeps what is not shipped), histctl status and histd's metrics. A restart
        // while central is down keeps the cursor its predecessor wrote for this epoch.
        var reporter = StateReporter(dbPath: db, say: say)
        reporter.seed(shipper: &shipper)
        // The local file recreated under a running shipper (a new epoch): reopen it when caught up.
        func inode() -> UInt64? {
            var st = stat()
            return stat(db, &st) == 0 ? UInt64(st.st_ino) : nil
        }
        var opened = inode()
        var backoff = 1.0
        var lastProblem: String? = nil
        var conn: FleetDatabase? = nil
        // The newest local scan time, read before a round of batches and shipped once it is caught up
        // (ScanClock.swift); `shippedScan` is what the server has, so an idle host sends nothing.
        var roundScan: Int64?? = nil
        var shippedScan: Int64? = nil
        // When the current round of batches began (ms UTC), and the caught-up time last written (CaughtUp.swift).
        var roundStart: Int64? = nil
        var reportedCaughtUp: Int64 = 0
        while true {
            do {
                if conn == nil {
                    let c = try await FleetDatabase.connect(fleetURL, logger: logger, queryTimeout: 15)
                    conn = c
                    let applied = try await FleetMigrator.migrate(c)
                    if !applied.isEmpty { say("applied central migrations \(applied.joined(separator: ", "))") }
                    try await shipper.register(c)
                }
                // Every query is bounded (15 s: FleetDatabase.queryTimeout): a server that went away mid-query
                // fails the batch, which is shipped again after a reconnect.
                let c = conn!
                if roundScan == nil { roundScan = .some(try shipper.newestScan()) }
                if roundStart == nil { roundStart = Int64(Date().timeIntervalSince1970 * 1000) }
                let n = try await shipper.shipOnce(c)
                if lastProblem != nil {
                    say("shipping again (the server answers)")
                    lastProblem = nil
                }
                backoff = 1
                reporter.report(shipper, ShipState.shipping, reason: nil, success: true, force: once && n == 0)
                if n == 0 {
                    if let scan = roundScan ?? nil, scan != shippedScan {
                        try await shipper.shipScanTime(c, scan)
                        shippedScan = scan
                    }
                    roundScan = nil
                    // Everything recorded before the round began is central now.
                    if let at = roundStart, once || at - reportedCaughtUp >= Shipper.caughtUpEveryMs {
                        try await shipper.shipCaughtUp(c, at: at)
                        reportedCaughtUp = at
                    }
                    roundStart = nil
                    if once {
                        // postgres-nio requires a close before the connection goes away.
                        if let c = conn { await c.close() }
                        return
                    }
                    if let now = inode(), now != opened {
                        shipper = try Shipper(path: db, hostID: shipper.hostID, batch: batch, snapshotEveryMs: every, logger: logger)
                        reporter.seed(shipper: &shipper)
                        opened = now
                        shippedScan = nil
                        say("\(db) was recreated: shipping its new epoch \(shipper.epoch)")
                        try await shipper.register(conn!)
                        continue
                    }
                    try await Task.sleep(for: .milliseconds(pollMs))
                }
            } catch {
                let text = (error as? FleetError)?.description ?? FleetDatabase.describe(error)
                if text != lastProblem {
                    // Once per change of state, not once per retry.
                    say("cannot ship, retrying with backoff up to 30 s: \(text)")
                    lastProblem = text
                }
                reporter.report(shipper, ShipState.cannotShip, reason: text, success: false, force: false)
                if let c = conn { await c.close() }
                conn = nil
                shippedScan = nil
                roundStart = nil
                if once { throw ExitCode(1) }
                try await Task.sleep(for: .seconds(backoff))
                backoff = min(backoff * 2, 30)
            }
        }
    }
}

/// Writes the state file (ShipState) after committed central transactions: at most once a second
/// while shipping, at once on a change of state (shipping, cannot ship and why). Throttled because
/// each write costs a few syscalls and a backlog count; a reader that sees a cursor a second old only
/// keeps a few rows longer.
struct StateReporter {
    let dbPath: String
    let path: String
    let say: (String) -> Void
    var last: ShipState? = nil
    var lastWriteMs: Int64 = 0
    var lastSuccess: Int64? = nil
    var lastProblem: String? = nil

    init(dbPath: String, say: @escaping (String) -> Void) {
        self.dbPath = dbPath
        path = ShipState.path(forDatabase: dbPath)
        self.say = say
    }

    /// Takes the cursor a predecessor wrote for this epoch, so the file keeps saying what was shipped
    /// while this process has not reached the server yet.
    mutating func seed(shipper: inout Shipper) {
        last = nil
        lastSuccess = nil
        if case .success(let s) = ShipState.read(forDatabase: dbPath),
           s.epoch == shipper.epoch, let seq = s.outboxSeq, let eid = s.eventID, shipper.committed == nil {
            shipper.committed = Shipper.Cursor(outboxSeq: seq, eventID: eid, sweepID: s.sweepID ?? 0, sweepResets: s.sweepResets ?? 0)
            lastSuccess = s.lastSuccessAt
        }
    }

    mutating func report(_ shipper: Shipper, _ state: String, reason: String?, success: Bool, force: Bool) {
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        if success { lastSuccess = now }
        let changed = last?.state != state || last?.reason != reason
        guard force || changed || now - lastWriteMs >= 1000 else { return }
        let c = shipper.committed
        var rows = last?.backlogRows ?? 0
        var oldest = last?.oldestUnshippedAt
        if let b = try? shipper.backlog(c ?? Shipper.Cursor(outboxSeq: 0, eventID: 0)) {
            rows = b.rows
            oldest = b.oldest
        }
        let s = ShipState(epoch: shipper.epoch, hostID: shipper.hostID, outboxSeq: c?.outboxSeq, eventID: c?.eventID, state: state,
                          reason: reason, updatedAt: now, lastSuccessAt: lastSuccess, backlogRows: rows, oldestUnshippedAt: oldest,
                          sweepID: shipper.snapshotEveryMs == nil ? nil : c?.sweepID, sweepResets: shipper.snapshotEveryMs == nil ? nil : c?.sweepResets)
        if let problem = s.write(to: path) {
            // Once per distinct problem: retention then holds (it never takes a missing file as "shipped").
            if problem != lastProblem { say("cannot write the state file: \(problem)") }
            lastProblem = problem
        } else {
            lastProblem = nil
        }
        last = s
        lastWriteMs = now
    }
}
