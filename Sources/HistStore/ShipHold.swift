import GRDB
import HistModel

/// Backpressure (docs/FLEET.md, "Backpressure"): while the writer captures changes for histd-ship,
/// retention keeps the rows past their period that histd-ship has not shipped yet, up to `maxBacklog`
/// (an estimate of their bytes), and past it deletes the oldest of them anyway, recording a `ship_gaps`
/// row (shipped too) for what went.
///
/// What was shipped comes from the shipper's state file (`ShipState`, beside the database), used only
/// when it belongs to this file's epoch. Missing, unreadable, unsafe or of another epoch means "nothing
/// known shipped": everything past its period is held within the cap, never deleted as if shipped.
/// Held: events after the shipped event id (every event while an 'events_reset' entry is not shipped);
/// instances, zombie_parents and orphans whose outbox entry is after the shipped outbox seq (every row
/// while a 'resync' entry is not shipped). Sweeps and their snapshots after the shipped sweep id (every
/// one once `ship_sweeps.resets` moved past the state file's count) when `[ship] ship_snapshots` is on;
/// not held otherwise, and scans never (they are not shipped).
public struct ShipHold: Sendable, Equatable {
    /// The database file; its state file is `ShipState.path(forDatabase:)`.
    public var dbPath: String
    /// `[ship] ship_max_backlog`: bytes of unshipped rows past the retention period kept at most.
    public var maxBacklog: Int64
    /// `[ship] ship_snapshots` is on: histd-ship ships snapshots, so unshipped sweeps are held too.
    public var snapshots: Bool

    public init(dbPath: String, maxBacklog: Int64, snapshots: Bool = false) {
        self.dbPath = dbPath
        self.maxBacklog = maxBacklog
        self.snapshots = snapshots
    }

    /// The estimated bytes of one row: a fixed part for its integers and the record's overhead, plus
    /// its text column (SQLite's own per-row size is not cheaply known; this is within 2x of the 30-day
    /// fixture's bytes per row).
    static let eventBytes = 48, rowBytes = 120
    /// A snapshot row (WITHOUT ROWID, ten small integers and a letter), and a sweep's own row.
    static let snapshotBytes = 32, sweepBytes = 24

    /// The tables with an outbox entry per row that retention prunes by a time column, in the order the
    /// cap drops them after events, with their text column for the size estimate.
    static let tables: [(name: String, time: String, text: String)] = [
        ("instances", "ended_at", "stderr_tail"), ("zombie_parents", "last_seen", "parent_cmdline"), ("orphans", "last_seen", "cmdline"),
    ]

    /// What one prune may delete, decided at its first step.
    struct Plan: Equatable {
        /// Events with id <= this may go (with ts past the cutoff).
        var eventBound: Int64 = .max
        /// Sweeps (and their snapshots) with id <= this may go (with ts past the snapshot cutoff).
        var sweepBound: Int64 = .max
        /// Per table of `tables`: the cutoff of its phase (<= retention's cutoff).
        var cutoffs: [String: Int64] = [:]
        /// The shipped outbox seq (dangling instances with a later entry are kept); nil: no hold.
        var shippedSeq: Int64? = nil
        /// A 'resync' entry is not shipped: every row of the outbox's tables is owed.
        var resyncPending = false
        /// Gaps recorded by this plan (rows, for PruneResult).
        var gapRows = 0
        var gaps = 0
    }

    /// The plan for a prune with retention cutoff `cutoff` (snapshots: `snapshotCutoff`), in the caller's
    /// transaction; records the gaps (ship_gaps rows and their outbox entries) it decides. nil when
    /// capture is off: no hold.
    func plan(_ db: Database, cutoff: Int64, snapshotCutoff: Int64, now: Int64) throws -> Plan? {
        guard try Bool.fetchOne(db, sql: "SELECT enabled FROM ship_capture WHERE id = 1") ?? false else { return nil }
        let epoch = try String.fetchOne(db, sql: "SELECT epoch FROM ship_epoch WHERE id = 1")
        var seq: Int64 = 0, eid: Int64 = 0, sweep: Int64 = 0
        let resets = try Int64.fetchOne(db, sql: "SELECT resets FROM ship_sweeps WHERE id = 1") ?? 0
        var snapshots = self.snapshots
        if case .success(let s) = ShipState.read(forDatabase: dbPath), s.epoch == epoch, let a = s.outboxSeq, let b = s.eventID {
            seq = a
            eid = b
            // Sweep ids restarted since that cursor (migrations/0017_ship_sweeps.sql): every sweep is owed.
            if s.sweepResets == resets, let c = s.sweepID { sweep = c }
            // A shipper that reports a snapshot cursor ships snapshots, whatever this process was told.
            if s.sweepID != nil { snapshots = true }
        }
        var p = Plan()
        p.shippedSeq = seq
        p.resyncPending = try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM ship_outbox WHERE tbl = 'resync' AND seq > ?)",
                                            arguments: [seq]) ?? false
        // Event ids restarted after the shipped cursor's: every event left is owed.
        if try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM ship_outbox WHERE tbl = 'events_reset' AND seq > ?)",
                             arguments: [seq]) ?? false { eid = 0 }
        p.eventBound = eid

        // What is held: unshipped rows past the cutoff, and their estimated size.
        let ev = try Row.fetchOne(db, sql: """
            SELECT count(*), coalesce(sum(\(Self.eventBytes) + coalesce(length(detail), 0)), 0) FROM events WHERE id > ? AND ts < ?
            """, arguments: [eid, cutoff])!
        var held: Int64 = ev[1]
        // Held sweeps: after the shipped one and past the snapshot cutoff. Their snapshots are estimated
        // from the first and the last held sweep's (a count of every held row would read days of
        // snapshots, 43 M a day at 500 processes, inside this write transaction).
        var sweepsHeld: Int64 = 0
        if snapshots {
            p.sweepBound = sweep
            let r = try Row.fetchOne(db, sql: """
                SELECT count(*), min(id), max(id) FROM sweeps WHERE id > ? AND ts < ?
                """, arguments: [sweep, snapshotCutoff])!
            sweepsHeld = r[0]
            if let first = r[1] as Int64?, let last = r[2] as Int64? {
                let ends = try Int64.fetchOne(db, sql: """
                    SELECT (SELECT count(*) FROM snapshots WHERE sweep_id = ?) + (SELECT count(*) FROM snapshots WHERE sweep_id = ?)
                    """, arguments: [first, last]) ?? 0
                held += sweepsHeld * (Int64(Self.sweepBytes) + ends * Int64(Self.snapshotBytes) / 2)
            }
        }
        var tableHeld: [String: (count: Int64, bytes: Int64, oldest: Int64?)] = [:]
        for t in Self.tables {
            let r = try Row.fetchOne(db, sql: """
                SELECT count(*), coalesce(sum(\(Self.rowBytes) + coalesce(length(t.\(t.text)), 0)), 0), min(t.\(t.time))
                FROM \(heldRows(t, p)) AND t.\(t.time) < ?
                """, arguments: heldArgs(p) + [cutoff])!
            let count: Int64 = r[0], bytes: Int64 = r[1], oldest: Int64? = r[2]
            tableHeld[t.name] = (count, bytes, oldest)
            held += r[1] as Int64
            p.cutoffs[t.name] = min(cutoff, (r[2] as Int64?) ?? cutoff)
        }
        var excess = held - maxBacklog
        guard excess > 0 else { return p }

        // Past the cap: the oldest snapshots first (whole sweeps, by id): they are samples, the least of
        // what the record holds; then the oldest events (by id), then the other tables by their time.
        if sweepsHeld > 0 {
            var through = sweep, run: Int64 = 0, rows: Int64 = 0, firstID: Int64? = nil, firstTs: Int64? = nil, lastTs: Int64? = nil
            let sweeps = try Row.fetchCursor(db, sql: """
                SELECT s.id, s.ts, (SELECT count(*) FROM snapshots n WHERE n.sweep_id = s.id) FROM sweeps s
                WHERE s.id > ? AND s.ts < ? ORDER BY s.id
                """, arguments: [sweep, snapshotCutoff])
            while run < excess, let r = try sweeps.next() {
                let id: Int64 = r[0], ts: Int64 = r[1], n: Int64 = r[2]
                through = id
                firstID = firstID ?? id
                firstTs = min(firstTs ?? ts, ts)
                lastTs = max(lastTs ?? ts, ts)
                rows += n
                run += Int64(Self.sweepBytes) + n * Int64(Self.snapshotBytes)
            }
            if let firstID {
                // Sweeps without snapshots (nothing was running) go too, with no gap: no sample is lost.
                try record(db, p: &p, tbl: "snapshots", rows: rows, firstID: firstID, lastID: through, firstTs: firstTs, lastTs: lastTs,
                           held: held, now: now)
                excess -= run
                p.sweepBound = through
            }
        }
        if excess > 0 && (ev[0] as Int64) > 0 {
            // Walked in id order until the excess is covered: the cost is the rows dropped, not all held
            // (a window function over all of them took 11 s on the 30-day fixture's 11.3 M events).
            var through = eid, run: Int64 = 0
            let rows = try Row.fetchCursor(db, sql: "SELECT id, \(Self.eventBytes) + coalesce(length(detail), 0) FROM events WHERE id > ? AND ts < ? ORDER BY id",
                                           arguments: [eid, cutoff])
            while run < excess, let r = try rows.next() {
                through = r[0]
                run += r[1] as Int64
            }
            let g = try Row.fetchOne(db, sql: """
                SELECT count(*), coalesce(sum(\(Self.eventBytes) + coalesce(length(detail), 0)), 0), min(id), max(id), min(ts), max(ts)
                FROM events WHERE id > ? AND id <= ? AND ts < ?
                """, arguments: [eid, through, cutoff])!
            try record(db, p: &p, tbl: "events", g, held: held, now: now)
            excess -= g[1] as Int64
            p.eventBound = through
        }
        for t in Self.tables where excess > 0 && (tableHeld[t.name]?.count ?? 0) > 0 {
            var time: Int64? = nil, run: Int64 = 0
            let rows = try Row.fetchCursor(db, sql: """
                SELECT t.\(t.time), \(Self.rowBytes) + coalesce(length(t.\(t.text)), 0) FROM \(heldRows(t, p)) AND t.\(t.time) < ?
                ORDER BY t.\(t.time)
                """, arguments: heldArgs(p) + [cutoff])
            while run < excess, let r = try rows.next() {
                time = r[0]
                run += r[1] as Int64
            }
            // Covered by the last row read (or all of them: until = cutoff).
            if run < excess { time = nil }
            let until = min(cutoff, time.map { $0 + 1 } ?? cutoff)
            let g = try Row.fetchOne(db, sql: """
                SELECT count(*), coalesce(sum(\(Self.rowBytes) + coalesce(length(t.\(t.text)), 0)), 0), min(t.id), max(t.id),
                       min(t.\(t.time)), max(t.\(t.time))
                FROM \(heldRows(t, p)) AND t.\(t.time) < ?
                """, arguments: heldArgs(p) + [until])!
            try record(db, p: &p, tbl: t.name, g, held: held, now: now)
            excess -= g[1] as Int64
            // Everything before `until` goes, shipped or not; the held rows after it stay.
            let next = try Int64.fetchOne(db, sql: "SELECT min(t.\(t.time)) FROM \(heldRows(t, p)) AND t.\(t.time) >= ? AND t.\(t.time) < ?",
                                          arguments: heldArgs(p) + [until, cutoff])
            p.cutoffs[t.name] = next ?? cutoff
        }
        return p
    }

    /// `FROM ... WHERE` of the held rows of `t` (alias t): with an outbox entry after the shipped seq, or
    /// all of them while a resync is owed.
    private func heldRows(_ t: (name: String, time: String, text: String), _ p: Plan) -> String {
        p.resyncPending
            ? "\(t.name) t WHERE 1"
            : "ship_outbox o JOIN \(t.name) t ON t.id = o.row_id WHERE o.tbl = '\(t.name)' AND o.seq > ?"
    }

    private func heldArgs(_ p: Plan) -> StatementArguments { p.resyncPending ? [] : [p.shippedSeq ?? 0] }

    /// One ship_gaps row and its outbox entry (so histd-ship ships it), when `g` (count, bytes, first id,
    /// last id, first ts, last ts) counts any row.
    private func record(_ db: Database, p: inout Plan, tbl: String, _ g: Row, held: Int64, now: Int64) throws {
        try record(db, p: &p, tbl: tbl, rows: g[0], firstID: g[2], lastID: g[3], firstTs: g[4], lastTs: g[5], held: held, now: now)
    }

    private func record(_ db: Database, p: inout Plan, tbl: String, rows: Int64, firstID: Int64?, lastID: Int64?, firstTs: Int64?,
                        lastTs: Int64?, held: Int64, now: Int64) throws {
        guard rows > 0, let firstID, let lastID else { return }
        try db.execute(sql: """
            INSERT INTO ship_gaps (at, tbl, rows, first_id, last_id, first_ts, last_ts, reason, held_bytes, cap_bytes)
            VALUES (?, ?, ?, ?, ?, ?, ?, 'ship_max_backlog', ?, ?)
            """, arguments: [now, tbl, rows, firstID, lastID, firstTs, lastTs, held, maxBacklog])
        try db.execute(sql: "INSERT INTO ship_outbox (tbl, row_id) VALUES ('ship_gaps', ?)", arguments: [db.lastInsertedRowID])
        p.gaps += 1
        p.gapRows += Int(rows)
    }
}
