import GRDB

/// `instances.restart_delay_ms` (migrations/0013_restart_delay.sql): for a crash or limit kill, the value
/// of the first restart_scheduled event (by ts, then id) whose instance_id is the instance and whose ts
/// lies within 60 s after its end. The crashes listing shows it as `restart_delay_s`. Derived and exact:
/// the writer sets it in the transaction that records the restart_scheduled (`setSQL`; or, when the end
/// and the instance's one restart are in the same batch, with the end's own INSERT or UPDATE, so that a
/// crash loop's cycle costs no second write of the row: `WriteSession.restartsAhead`), retention
/// recomputes it for the instances whose restart_scheduled events it deletes (`rebuild`), and migration
/// 0013 and fixtures derive it from the raw rows (`rebuildAllSQL`).
///
/// Why the writer can keep "first by ts" without storing the event's ts: every restart_scheduled that
/// names an instance row is written by the histd process that created the row (the engine names only
/// instances it started; `WriteSession.row(of:)` maps only those), so that process's memory
/// (`WriterCaches.restartAt`) knows the ts of the event that set the value, and a later-written event
/// with an earlier ts (a clock stepped back) replaces it. The engine records an end before the restart it
/// schedules after it, so the end is in the row when the restart_scheduled is written.
public enum RestartDelay {
    /// How long after an end a restart_scheduled still belongs to it (the listing's rule since 0002).
    static let windowMs: Int64 = 60_000

    /// The writer's statement: ?1 delay (ms), ?2 instance row, ?3 the event's ts. Changes the row only
    /// when it is a crash or limit kill that ended at most 60 s before ?3.
    static let setSQL = """
        UPDATE instances SET restart_delay_ms = ?1
        WHERE id = ?2 AND class IN ('crash', 'limit') AND ended_at IS NOT NULL AND ?3 >= ended_at AND ?3 <= ended_at + \(windowMs)
        """

    /// The raw rule for one instance row (`instances` as the outer table). Two seeks, not one range
    /// with ORDER BY ts, id: events_kind_ts is ordered by (ts, program_id, value), so a sort by id would
    /// read every restart_scheduled of all programs within the 60 s (about 85 table rows on the 30-day
    /// fixture) per instance; this finds the first ts with a match in index order, then the lowest id at
    /// that ts.
    static let rawValueSQL = """
        (SELECT r.value FROM events r
            WHERE r.kind = 4 /* restart_scheduled */ AND r.instance_id = instances.id AND r.ts = (
                SELECT q.ts FROM events q
                WHERE q.kind = 4 AND q.ts >= instances.ended_at AND q.ts <= instances.ended_at + 60000
                  AND q.instance_id = instances.id
                ORDER BY q.ts LIMIT 1)
            ORDER BY r.id LIMIT 1)
        """

    /// Every value from the raw rows, set-based, in the caller's transaction (migrations/0013 runs the
    /// same statement): one pass over the events table (11 M rows on the 30-day fixture, read in order:
    /// cheaper than 3.7 M restart_scheduled index entries each with a table row at a random place), the
    /// first per instance by a window, one UPDATE per crash that has one. Needs every value NULL first.
    public static let rebuildAllSQL = """
        UPDATE instances SET restart_delay_ms = d.value FROM (
            SELECT instance_id, value FROM (
                SELECT r.instance_id AS instance_id, r.value AS value,
                       row_number() OVER (PARTITION BY r.instance_id ORDER BY r.ts, r.id) AS n
                FROM events r NOT INDEXED
                JOIN instances i ON i.id = r.instance_id
                WHERE r.kind = 4 /* restart_scheduled */ AND i.class IN ('crash', 'limit') AND i.ended_at IS NOT NULL
                  AND r.ts >= i.ended_at AND r.ts <= i.ended_at + 60000)
            WHERE n = 1) d
        WHERE instances.id = d.instance_id
        """

    /// Derives every value again (fixtures and imports that write rows without the writer).
    static func rebuildAll(_ db: Database) throws {
        try db.execute(sql: "UPDATE instances SET restart_delay_ms = NULL WHERE restart_delay_ms IS NOT NULL")
        try db.execute(sql: rebuildAllSQL)
    }

    /// The values of the instances `?` (a JSON array of ids), from what is left of their events.
    static let rebuildSQL = """
        UPDATE instances SET restart_delay_ms = \(rawValueSQL)
        WHERE id IN (SELECT value FROM json_each(?)) AND class IN ('crash', 'limit') AND ended_at IS NOT NULL
        """

    /// Recomputes the value of `instances` (after some of their restart_scheduled events were deleted).
    static func rebuild(_ db: Database, instances: [Int64]) throws {
        guard !instances.isEmpty else { return }
        let ids = "[" + instances.map(String.init).joined(separator: ",") + "]"
        try db.cachedStatement(sql: rebuildSQL).execute(arguments: [ids])
    }
}
