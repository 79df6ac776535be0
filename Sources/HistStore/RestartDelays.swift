import GRDB

/// The `restart_delays` rollup (migrations/0013_report_rollups.sql): per instance, the first
/// restart_scheduled event (by time, then id) within 60 s after its end, as the crashes listing shows it
/// (`restart_delay_s`). Derived from `events` and `instances` and exact: the writer adds the row in the
/// transaction that records the restart_scheduled (`record`), retention recomputes the rows whose event
/// it deleted and deletes the rows of the instances it deleted.
///
/// Kept apart from the writer's batching (WriteSession calls `record` once per restart_scheduled; one
/// primary-key UPSERT, no batch): a restart_scheduled is one per crash, and the row must exist before
/// the commit like every other rollup row.
enum RestartDelays {
    /// How long after an end a restart_scheduled still belongs to it (the listing's rule).
    static let windowMs: Int64 = 60_000

    /// The writer's statement: ?1 instance row, ?2 delay (ms), ?3 the event's ts. Only when the instance
    /// has ended at most 60 s before; an earlier event (by time) already there wins, an equal time keeps
    /// the one written first (the lower event id).
    static let recordSQL = """
        INSERT INTO restart_delays (instance_id, delay_ms, scheduled_at)
        SELECT i.id, ?2, ?3 FROM instances i
        WHERE i.id = ?1 AND i.ended_at IS NOT NULL AND ?3 >= i.ended_at AND ?3 <= i.ended_at + \(windowMs)
        ON CONFLICT (instance_id) DO UPDATE SET delay_ms = excluded.delay_ms, scheduled_at = excluded.scheduled_at
            WHERE excluded.scheduled_at < restart_delays.scheduled_at
        """

    /// Records one restart_scheduled (instance row `instance`, at `ts`, `delay` ms) in the caller's
    /// transaction. Does nothing without an instance row (the raw rule needs events.instance_id).
    static func record(_ db: Database, instance: Int64?, ts: Int64, delay: Int64?) throws {
        guard let instance else { return }
        try db.cachedStatement(sql: recordSQL).execute(arguments: [instance, delay, ts])
    }

    /// The rows of the instances `:ids` (a JSON array) from raw rows; their old rows must be deleted first.
    /// One events_kind_ts range per instance (events has no index on instance_id); migrations/0013 applies
    /// the same rule to every instance set-based.
    static let rebuildSQL = """
        INSERT INTO restart_delays (instance_id, delay_ms, scheduled_at)
        SELECT i.id, r.value, r.ts
        FROM instances i
        JOIN events r ON r.id = (
            SELECT q.id FROM events q
            WHERE q.kind = 4 /* restart_scheduled */ AND q.ts >= i.ended_at AND q.ts <= i.ended_at + \(windowMs)
              AND q.instance_id = i.id
            ORDER BY q.ts, q.id LIMIT 1)
        WHERE i.id IN (SELECT value FROM json_each(:ids)) AND i.ended_at IS NOT NULL
        """

    /// Every row from raw rows, set-based (one events_kind_ts range over all restart_scheduled events);
    /// `restart_delays` must be empty. migrations/0013_report_rollups.sql holds the same statement.
    static let rebuildAllSQL = """
        INSERT INTO restart_delays (instance_id, delay_ms, scheduled_at)
        SELECT instance_id, value, ts FROM (
            SELECT r.instance_id AS instance_id, r.value AS value, r.ts AS ts,
                   row_number() OVER (PARTITION BY r.instance_id ORDER BY r.ts, r.id) AS n
            FROM events r
            JOIN instances i ON i.id = r.instance_id
            WHERE r.kind = 4 /* restart_scheduled */ AND i.ended_at IS NOT NULL
              AND r.ts >= i.ended_at AND r.ts <= i.ended_at + 60000
        )
        WHERE n = 1;
        """

    /// Makes the rows of `instances` match the raw rows again (after their events were pruned).
    static func rebuild(_ db: Database, instances: [Int64]) throws {
        guard !instances.isEmpty else { return }
        let ids = "[" + instances.map(String.init).joined(separator: ",") + "]"
        try db.cachedStatement(sql: "DELETE FROM restart_delays WHERE instance_id IN (SELECT value FROM json_each(?))")
            .execute(arguments: [ids])
        try db.cachedStatement(sql: rebuildSQL).execute(arguments: ["ids": ids])
    }
}
