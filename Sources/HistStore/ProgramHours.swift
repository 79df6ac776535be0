import GRDB

/// The `program_hours` rollup (migrations/0011_loop_rollups.sql): per program and UTC hour, its start,
/// restart_scheduled and gave_up events and the longest restart delay. Derived from `events` and exact:
/// the writer adds each batch's events in the transaction that inserts them (one UPSERT per key), and
/// retention recomputes the hours it deletes events from.
struct ProgramHours {
    static let hourMs: Int64 = 3_600_000

    struct Key: Hashable {
        var programID: Int64
        var hour: Int64
    }

    struct Totals {
        var starts: Int64 = 0
        var restarts: Int64 = 0
        var gaveUps: Int64 = 0
        var maxDelay: Int64?
    }

    private(set) var pending: [Key: Totals] = [:]

    /// Counts one event when it is a start (1), restart_scheduled (4) or gave_up (5) of a program.
    mutating func add(kind: Int64, programID: Int64?, ts: Int64, value: Int64?) {
        guard let programID, kind == 1 || kind == 4 || kind == 5 else { return }
        let key = Key(programID: programID, hour: ts - ts % Self.hourMs)
        var t = pending[key] ?? Totals()
        switch kind {
        case 1: t.starts += 1
        case 4:
            t.restarts += 1
            if let value { t.maxDelay = max(t.maxDelay ?? value, value) }
        default: t.gaveUps += 1
        }
        pending[key] = t
    }

    mutating func discard() { pending.removeAll(keepingCapacity: true) }

    /// Adds the batch to `program_hours` inside the caller's transaction.
    mutating func flush(_ db: Database) throws {
        guard !pending.isEmpty else { return }
        defer { discard() }
        let st = try db.cachedStatement(sql: Self.upsertSQL)
        // The longest delay per day as well, for program_days (migrations/0015_day_rollups.sql).
        var days: [Key: Int64] = [:]
        for (k, t) in pending {
            try st.execute(arguments: [k.programID, k.hour, t.starts, t.restarts, t.gaveUps, t.maxDelay])
            if let delay = t.maxDelay {
                let day = Key(programID: k.programID, hour: DayRollups.day(k.hour))
                days[day] = max(days[day] ?? delay, delay)
            }
        }
        guard !days.isEmpty else { return }
        let dayStatement = try db.cachedStatement(sql: DayRollups.programUpsertSQL)
        for (k, delay) in days { try dayStatement.execute(arguments: [k.programID, k.hour, delay]) }
    }

    static let upsertSQL = """
        INSERT INTO program_hours (program_id, hour, starts, restarts, gave_ups, max_restart_delay_ms)
        VALUES (?, ?, ?, ?, ?, ?)
        ON CONFLICT (program_id, hour) DO UPDATE SET
            starts = starts + excluded.starts, restarts = restarts + excluded.restarts,
            gave_ups = gave_ups + excluded.gave_ups,
            max_restart_delay_ms = CASE WHEN excluded.max_restart_delay_ms IS NULL THEN max_restart_delay_ms
                                        WHEN max_restart_delay_ms IS NULL THEN excluded.max_restart_delay_ms
                                        ELSE max(max_restart_delay_ms, excluded.max_restart_delay_ms) END
        """

    /// Recomputes the rows of events in [:from, :until) (the rows must have been deleted first).
    /// migrations/0011_loop_rollups.sql runs the same statement over the whole time range.
    static let rebuildSQL = """
        INSERT INTO program_hours (program_id, hour, starts, restarts, gave_ups, max_restart_delay_ms)
        SELECT e.program_id, e.ts - e.ts % 3600000, SUM(e.kind = 1), SUM(e.kind = 4), SUM(e.kind = 5),
               MAX(CASE WHEN e.kind = 4 THEN e.value END)
        FROM events e
        WHERE e.kind IN (1, 4, 5) AND e.program_id IS NOT NULL AND e.ts >= :from AND e.ts < :until
        GROUP BY 1, 2;
        """

    /// Makes the rows of the hours in [from, until) (hour-aligned) match `events` again. The table is
    /// keyed by program first: one primary-key range per program.
    static func rebuild(_ db: Database, from: Int64, until: Int64) throws {
        try db.execute(sql: """
            DELETE FROM program_hours WHERE program_id IN (SELECT id FROM programs) AND hour >= ? AND hour < ?
            """, arguments: [from, until])
        // Rows of programs that no longer exist cannot be: programs are never deleted.
        try db.execute(sql: rebuildSQL, arguments: ["from": from, "until": until])
    }
}
