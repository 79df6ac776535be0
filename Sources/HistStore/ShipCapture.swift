import GRDB

/// Whether histd's writer records changed rows in `ship_outbox` for histd-ship (docs/FLEET.md,
/// migrations/0012_ship_outbox.sql). Decided once per write connection, as it opens.
///
/// Why TEMP triggers on the writer's own connection, and only while shipping: permanent triggers (the first
/// version of 0012) cost every host about a third of the writer's crash-loop throughput, shipping or not
/// (BENCHMARKS.md, "Fleet (issue 17)"). TEMP triggers live and die with the one connection that writes,
/// so a host without `[ship]` runs no trigger at all, and a shipping host captures every change its
/// writer makes, in the same transaction as the change.
public enum ShipCapture: String, Sendable, Equatable {
    /// `[ship]` is set: create the capture triggers; if capture was off until now, resync.
    case on
    /// No `[ship]`: no triggers, and remember that changes are not being captured (the next `on` resyncs).
    case off

    /// The tables whose rows change after they are written, with the column the outbox's row_id names
    /// (histd-ship copies them in this order on a 'resync' entry).
    static let tables: [(name: String, key: String)] = [
        ("runs", "id"), ("programs", "id"), ("instances", "id"), ("zombie_parents", "id"), ("orphans", "id"),
        ("operator_effects", "instance_id"),
    ]

    /// What `apply` did.
    public struct Outcome: Sendable, Equatable {
        /// Capture was off and is on now: a 'resync' entry owes every live row again.
        public var resynced: Bool
    }

    /// Applies the mode on the writer's connection, in one transaction (the resync and the flag commit
    /// together). `now` is ms UTC.
    /// nil: a tool's connection, which follows the file (triggers while capture is on, no change of state).
    @discardableResult
    static func apply(_ mode: ShipCapture?, _ dbQueue: DatabaseQueue, now: Int64) throws -> Outcome {
        try dbQueue.write { db in
            if let mode { return try apply(mode, db, now: now) }
            if try Bool.fetchOne(db, sql: "SELECT enabled FROM ship_capture WHERE id = 1") ?? false { try db.execute(sql: triggersSQL) }
            return Outcome(resynced: false)
        }
    }

    static func apply(_ mode: ShipCapture, _ db: Database, now: Int64) throws -> Outcome {
        let was = try Bool.fetchOne(db, sql: "SELECT enabled FROM ship_capture WHERE id = 1") ?? false
        switch mode {
        case .off:
            for (name, _) in tables {
                for op in ["insert", "update", "delete"] { try db.execute(sql: "DROP TRIGGER IF EXISTS temp.ship_\(name)_\(op)") }
            }
            if was { try db.execute(sql: "UPDATE ship_capture SET enabled = 0, changed_at = ? WHERE id = 1", arguments: [now]) }
            return Outcome(resynced: false)
        case .on:
            try db.execute(sql: triggersSQL)
            guard !was else { return Outcome(resynced: false) }
            // Resync: rows written or changed while nothing captured them are owed again, every live one,
            // after every entry a shipper may already have passed (AUTOINCREMENT: a new, higher seq). One
            // 'resync' entry stands for all of them (histd-ship copies the tables whole when it reaches it),
            // so this stays O(1): one entry per row took 8 s of CPU on the 30-day fixture. Changes from now
            // on get their own entries after it. The events_reset marker stays: it is retention's, and
            // still tells where event ids restarted.
            try db.execute(sql: "DELETE FROM ship_outbox WHERE tbl <> 'events_reset'")
            try db.execute(sql: "INSERT INTO ship_outbox (tbl, row_id) VALUES ('resync', 0)")
            try db.execute(sql: "UPDATE ship_capture SET enabled = 1, changed_at = ? WHERE id = 1", arguments: [now])
            return Outcome(resynced: true)
        }
    }

    /// The TEMP triggers. A change deletes the row's entry and inserts a new one (a new, higher seq), so a
    /// shipper whose cursor passed the old entry ships the row's current state once more. DELETE then a
    /// plain INSERT, not INSERT OR REPLACE: a trigger's conflict clause is overridden by the firing
    /// statement's (an INSERT OR IGNORE into runs would turn the REPLACE into an IGNORE and keep the old
    /// seq). A deleted row's entry goes with it (operator_effects: when the instance's last effect goes).
    /// Trigger bodies name tables unqualified (SQLite's rule); `ship_outbox` exists only in main.
    static let triggersSQL: String = tables.map { name, key in
        let upsert = """
            DELETE FROM ship_outbox WHERE tbl = '\(name)' AND row_id = NEW.\(key);
            INSERT INTO ship_outbox (tbl, row_id) VALUES ('\(name)', NEW.\(key));
            """
        let delete = name == "operator_effects"
            ? """
              CREATE TEMP TRIGGER IF NOT EXISTS ship_\(name)_delete AFTER DELETE ON main.\(name)
              WHEN NOT EXISTS (SELECT 1 FROM operator_effects WHERE instance_id = OLD.instance_id)
              BEGIN DELETE FROM ship_outbox WHERE tbl = '\(name)' AND row_id = OLD.\(key); END;
              """
            : """
              CREATE TEMP TRIGGER IF NOT EXISTS ship_\(name)_delete AFTER DELETE ON main.\(name)
              BEGIN DELETE FROM ship_outbox WHERE tbl = '\(name)' AND row_id = OLD.\(key); END;
              """
        // operator_effects rows are never updated (their key is the whole row).
        let update = name == "operator_effects" ? "" : """
            CREATE TEMP TRIGGER IF NOT EXISTS ship_\(name)_update AFTER UPDATE ON main.\(name) BEGIN \(upsert) END;
            """
        return """
            CREATE TEMP TRIGGER IF NOT EXISTS ship_\(name)_insert AFTER INSERT ON main.\(name) BEGIN \(upsert) END;
            \(update)
            \(delete)
            """
    }.joined(separator: "\n")

    /// Retention's part (`Pruner`, whether or not capture is on): when a prune step emptied `events`, whose
    /// ids then start again at 1, the newest 'events_reset' entry tells histd-ship to restart its event
    /// cursor. `lastID` is the highest id the step deleted.
    static func noteEventsEmptied(_ db: Database, lastID: Int64) throws {
        guard try !(Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM events)") ?? true) else { return }
        try db.execute(sql: "DELETE FROM ship_outbox WHERE tbl = 'events_reset'")
        try db.execute(sql: "INSERT INTO ship_outbox (tbl, row_id) VALUES ('events_reset', ?)", arguments: [lastID])
    }
}
