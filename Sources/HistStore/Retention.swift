import GRDB
import HistModel

/// Rows deleted by one prune.
public struct PruneResult: Sendable, Equatable {
    public var events = 0
    public var instances = 0
    public var scans = 0
    public var zombieParents = 0
    public var orphans = 0
    public var sweeps = 0
    public var snapshots = 0
    /// Unshipped rows deleted past `ship_max_backlog`, and the ship_gaps rows that record them (ShipHold).
    public var shipGapRows = 0
    public var shipGaps = 0

    public init() {}

    public var total: Int { events + instances + scans + zombieParents + orphans + sweeps + snapshots }
}

/// Retention as a resumable sequence of small deletes. Each `step` deletes at most `batchSize` rows
/// (or `batchSize` snapshot rows' worth of sweeps) in the caller's transaction, so the writer can run
/// one step between batches of new events and never stalls behind a big DELETE.
///
/// What goes: events, scans, zombie/orphan intervals (by last_seen) and ended instances older than
/// `retention`; instances never seen ending whose run is closed, by start time; sweeps and their
/// snapshots older than `snapshotRetention`; an instance's `operator_effects` rows go with it. Runs, programs
/// and program_configs are kept (a few rows per histd start). Every delete goes through an index. The
/// `crash_hours` rollup is adjusted in the same transaction as the instances it summarises, so it stays
/// exact between steps.
struct Pruner {
    enum Phase: Int, CaseIterable { case events, scans, zombieParents, orphans, instancesEnded, instancesDangling, snapshots, done }

    let cutoff: Int64
    let snapshotCutoff: Int64
    let batchSize: Int
    let now: Int64
    /// Backpressure for histd-ship (nil: no hold); its plan is made at the first step.
    let hold: ShipHold?
    private(set) var plan: ShipHold.Plan? = nil
    private var planned = false
    private(set) var phase: Phase = .events
    private(set) var result = PruneResult()

    init(now: Timestamp, retention: Duration, snapshotRetention: Duration, batchSize: Int, hold: ShipHold? = nil) {
        self.now = now.milliseconds
        cutoff = now.milliseconds - retention.milliseconds
        snapshotCutoff = now.milliseconds - snapshotRetention.milliseconds
        self.batchSize = max(1, batchSize)
        self.hold = hold
    }

    /// The cutoff of a table's phase: retention's, or earlier where unshipped rows are held.
    func cutoff(_ table: String) -> Int64 { plan?.cutoffs[table] ?? cutoff }

    var isDone: Bool { phase == .done }

    /// One batch. Returns the number of rows deleted.
    mutating func step(_ db: Database) throws -> Int {
        if !planned, let hold {
            plan = try hold.plan(db, cutoff: cutoff, snapshotCutoff: snapshotCutoff, now: now)
            planned = true
            result.shipGaps += plan?.gaps ?? 0
            result.shipGapRows += plan?.gapRows ?? 0
        }
        let n: Int
        switch phase {
        case .events:
            // One events_kind_ts range per kind (there is no index on ts alone); no ORDER BY, so no sort.
            // RETURNING: which kinds and hours went, for the rollups derived from events.
            let gone = try Row.fetchAll(db.cachedStatement(sql: """
                DELETE FROM events WHERE id IN
                    (SELECT id FROM events WHERE kind IN (SELECT id FROM event_kinds) AND ts < ? AND id <= ? LIMIT ?)
                RETURNING kind, ts, instance_id, program_id, id
                """), arguments: [cutoff, plan?.eventBound ?? Int64.max, batchSize])
            n = gone.count
            result.events += n
            try pruneEventRollups(db, deleted: gone.map { (kind: $0[0] as Int64, ts: $0[1] as Int64) })
            try pruneRestartDelays(db, deleted: gone.map { (kind: $0[0] as Int64, instance: $0[2] as Int64?) })
            try RestartRollup.pruned(db, deleted: gone.map { (kind: $0[0], ts: $0[1], programID: $0[3]) })
            // Emptied: event ids start again at 1; histd-ship must know (migrations/0012_ship_outbox.sql).
            if let last = gone.map({ $0[4] as Int64 }).max() { try ShipCapture.noteEventsEmptied(db, lastID: last) }
        case .scans:
            n = try delete(db, "DELETE FROM scans WHERE id IN (SELECT id FROM scans WHERE ts < ? ORDER BY ts LIMIT ?)", cutoff)
            result.scans += n
        case .zombieParents:
            n = try delete(db, """
                DELETE FROM zombie_parents WHERE id IN
                    (SELECT id FROM zombie_parents WHERE last_seen < ? ORDER BY last_seen LIMIT ?)
                """, cutoff("zombie_parents"))
            result.zombieParents += n
        case .orphans:
            n = try delete(db, "DELETE FROM orphans WHERE id IN (SELECT id FROM orphans WHERE last_seen < ? ORDER BY last_seen LIMIT ?)", cutoff("orphans"))
            result.orphans += n
        case .instancesEnded:
            // Their operator_effects rows first (they reference the instances; migration 0004).
            let instancesCutoff = cutoff("instances")
            let ended = try effectsDeleted(db, """
                DELETE FROM operator_effects WHERE instance_id IN
                    (SELECT id FROM instances WHERE ended_at < ? ORDER BY ended_at LIMIT ?)
                RETURNING instance_id, effect
                """, [instancesCutoff, batchSize])
            // The newest end this batch removes: every instance that ended before it goes in this batch.
            let newest = try Int64.fetchOne(db.cachedStatement(sql: """
                SELECT max(ended_at) FROM (SELECT ended_at FROM instances WHERE ended_at < ? ORDER BY ended_at LIMIT ?)
                """), arguments: [instancesCutoff, batchSize])
            n = try delete(db, """
                DELETE FROM instances WHERE id IN
                    (SELECT id FROM instances WHERE ended_at < ? ORDER BY ended_at LIMIT ?)
                """, instancesCutoff)
            result.instances += n
            if let newest { try pruneRollups(db, through: newest) }
            try restartsNoLongerOperatorEnded(db, ended)
        case .instancesDangling:
            // Never seen ending, and their run is over (histd died): only the start time is left to go by.
            // Held (ShipHold): those with an outbox entry not shipped yet, all of them while a resync is owed.
            if plan?.resyncPending == true {
                phase = .snapshots
                return 0
            }
            let unshipped = plan?.shippedSeq.map { _ in
                " AND NOT EXISTS (SELECT 1 FROM ship_outbox o WHERE o.tbl = 'instances' AND o.row_id = i.id AND o.seq > ?)"
            } ?? ""
            let args: [(any DatabaseValueConvertible)?] = plan?.shippedSeq.map { [cutoff, $0, batchSize] } ?? [cutoff, batchSize]
            let ended = try effectsDeleted(db, """
                DELETE FROM operator_effects WHERE instance_id IN
                    (SELECT i.id FROM runs r JOIN instances i ON i.run_id = r.id AND i.ended_at IS NULL
                     WHERE r.stopped_at IS NOT NULL AND i.started_at < ?\(unshipped) LIMIT ?)
                RETURNING instance_id, effect
                """, args)
            try db.cachedStatement(sql: """
                DELETE FROM instances WHERE id IN
                    (SELECT i.id FROM runs r JOIN instances i ON i.run_id = r.id AND i.ended_at IS NULL
                     WHERE r.stopped_at IS NOT NULL AND i.started_at < ?\(unshipped) LIMIT ?)
                """).execute(arguments: StatementArguments(args))
            n = db.changesCount
            result.instances += n
            try restartsNoLongerOperatorEnded(db, ended)
        case .snapshots:
            // Whole sweeps at a time, about batchSize snapshot rows per step. Held (ShipHold): those after
            // the sweep histd-ship shipped, when it ships snapshots.
            let bound = plan?.sweepBound ?? Int64.max
            let perSweep = try Int.fetchOne(db, sql: """
                SELECT count(*) FROM snapshots WHERE sweep_id = (SELECT id FROM sweeps WHERE ts < ? AND id <= ? ORDER BY ts LIMIT 1)
                """, arguments: [snapshotCutoff, bound]) ?? 0
            let sweepsPerStep = max(1, batchSize / max(1, perSweep))
            let ids = try Int64.fetchAll(db, sql: "SELECT id FROM sweeps WHERE ts < ? AND id <= ? ORDER BY ts LIMIT ?",
                                         arguments: [snapshotCutoff, bound, sweepsPerStep])
            var rows = 0
            let delSnap = try db.cachedStatement(sql: "DELETE FROM snapshots WHERE sweep_id = ?")
            let delSweep = try db.cachedStatement(sql: "DELETE FROM sweeps WHERE id = ?")
            for id in ids {
                try delSnap.execute(arguments: [id])
                result.snapshots += db.changesCount
                rows += db.changesCount
                try delSweep.execute(arguments: [id])
            }
            result.sweeps += ids.count
            // Emptied: sweep ids start again at 1; histd-ship's snapshot cursor must know
            // (migrations/0017_ship_sweeps.sql).
            if !ids.isEmpty, try !(Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM sweeps)") ?? true) {
                try db.execute(sql: "UPDATE ship_sweeps SET resets = resets + 1 WHERE id = 1")
            }
            if ids.count < sweepsPerStep { phase = .done }
            return rows + ids.count
        case .done:
            return 0
        }
        if n < batchSize { phase = Phase(rawValue: phase.rawValue + 1) ?? .done }
        return n
    }

    /// Keeps `crash_hours` exact in the transaction that deleted instances ended up to `newest`: hours
    /// before newest's hour lost all their instances, so their rows go; newest's own hour may keep some
    /// (ends at or after newest), so its rows are recomputed from what is left (a few thousand index
    /// entries at most).
    private func pruneRollups(_ db: Database, through newest: Int64) throws {
        let hour = CrashRollup.hour(newest)
        try db.cachedStatement(sql: "DELETE FROM crash_hours WHERE hour < ?").execute(arguments: [hour])
        try CrashRollup.rebuild(db, from: hour, until: hour + CrashRollup.hourMs)
        try pruneLoopRollup(db, through: newest)
    }

    /// Runs an operator_effects DELETE ... RETURNING instance_id, effect and returns the minutes of
    /// `restart_minutes` whose restarts named an instance that lost its 'ended' effect (read before the
    /// instances themselves go: the lookup needs their program and start).
    private func effectsDeleted(_ db: Database, _ sql: String, _ args: [(any DatabaseValueConvertible)?]) throws -> Set<RestartRollup.Key> {
        let rows = try Row.fetchAll(db.cachedStatement(sql: sql), arguments: StatementArguments(args))
        var keys = Set<RestartRollup.Key>()
        for r in rows where (r[1] as String) == "ended" {
            keys.formUnion(try RestartRollup.keysOfRestarts(db, instance: r[0]))
        }
        return keys
    }

    /// Those restarts count again (status's restarts_1h reads operator_effects): their minutes are recomputed.
    private func restartsNoLongerOperatorEnded(_ db: Database, _ keys: Set<RestartRollup.Key>) throws {
        guard !keys.isEmpty else { return }
        RestartRollup.pruneGeneration.add(1, ordering: .releasing)
        try RestartRollup.recompute(db, keys)
    }

    private func delete(_ db: Database, _ sql: String, _ cutoff: Int64) throws -> Int {
        try db.cachedStatement(sql: sql).execute(arguments: [cutoff, batchSize])
        return db.changesCount
    }
}

/// Maintenance entry points for tools (`histctl prune`) that run beside a live histd.
public enum HistoryMaintenance {
    /// Opens the existing database at `path` with its own write connection and deletes rows older than
    /// the retention periods, `batchSize` rows per transaction. Between transactions the write lock is
    /// released, so a running histd's writer gets in (it waits at most one small transaction).
    /// Never creates the database. Throws `HistoryStoreError`.
    @discardableResult
    /// A file that captures changes for histd-ship keeps what is not shipped yet, up to `shipMaxBacklog`
    /// bytes (ShipHold; nil: no hold); its snapshots too when `shipSnapshots` (`[ship] ship_snapshots`) or
    /// when the shipper's state file has a snapshot cursor.
    public static func prune(path: String, now: Timestamp = .now(), retention: Duration, snapshotRetention: Duration,
                             batchSize: Int = 1000, shipMaxBacklog: Int64? = ShipSpec.defaultMaxBacklog,
                             shipSnapshots: Bool = false) throws -> PruneResult {
        let dbQueue = try HistoryDatabase.openWriter(path: path, create: false, label: "histd-prune")
        defer { try? dbQueue.close() }
        return try prune(dbQueue, path: path, now: now, retention: retention, snapshotRetention: snapshotRetention,
                         batchSize: batchSize, shipMaxBacklog: shipMaxBacklog, shipSnapshots: shipSnapshots)
    }

    static func prune(_ dbQueue: DatabaseQueue, path: String, now: Timestamp, retention: Duration,
                      snapshotRetention: Duration, batchSize: Int, shipMaxBacklog: Int64? = nil, shipSnapshots: Bool = false) throws -> PruneResult {
        var pruner = Pruner(now: now, retention: retention, snapshotRetention: snapshotRetention, batchSize: batchSize,
                            hold: shipMaxBacklog.map { ShipHold(dbPath: path, maxBacklog: $0, snapshots: shipSnapshots) })
        do {
            while !pruner.isDone {
                try dbQueue.inDatabase { db in
                    try db.inTransaction(.immediate) {
                        _ = try pruner.step(db)
                        return .commit
                    }
                }
            }
        } catch let error as DatabaseError {
            throw HistoryStoreError(.writeFailed, path: path, "prune failed: \(error.message ?? "\(error)")")
        }
        return pruner.result
    }
}
