import GRDB

/// The day rollups of migrations/0015_day_rollups.sql: `loop_days` sums `loop_hours` and `program_days`
/// takes the maximum of `program_hours.max_restart_delay_ms` per UTC day (`hour - hour % 86400000`). An hour
/// row lies wholly inside one day, so a day row is exactly the hour rows of its day aggregated, and a
/// report can read whole days here and only the partial days at its edges from the hour rows.
///
/// Kept exact the same way as the hour rows they summarise: the writer adds each transaction's hour totals
/// to their day as well, in the same transaction (`LoopRollup.flush`, `ProgramHours.flush`, one more UPSERT
/// per key), and wherever retention recomputes or deletes hour rows it recomputes those days from the hour
/// rows that are left (`rebuild...`).
enum DayRollups {
    static let dayMs: Int64 = 86_400_000

    /// The day bucket of an hour (or any ms): the same truncating `%` as the hour buckets and SQLite's.
    static func day(_ ms: Int64) -> Int64 { ms - ms % dayMs }

    /// The writer's UPSERT for `loop_days`: the same merge as `LoopRollup.upsertSQL`, by day.
    static let loopUpsertSQL = LoopRollup.upsertSQL(table: "loop_days", bucket: "day")

    /// The writer's UPSERT for `program_days` (only for a key with a restart delay): a row is written only
    /// when the new maximum is larger, so most restarts of a day change no page.
    static let programUpsertSQL = """
        INSERT INTO program_days (program_id, day, max_restart_delay_ms) VALUES (?, ?, ?)
        ON CONFLICT (program_id, day) DO UPDATE SET max_restart_delay_ms = excluded.max_restart_delay_ms
        WHERE excluded.max_restart_delay_ms > max_restart_delay_ms
        """

    /// Derives the `loop_days` rows of the days [:from, :until] (day buckets, both ends included) from
    /// `loop_hours` (the rows must have been deleted first). The hour range is one day wider on each side
    /// so that it holds every hour of those buckets (the bucket of a negative hour is its day's end);
    /// migrations/0015_day_rollups.sql runs the same statement over the whole time range.
    static let loopRebuildSQL = """
        INSERT INTO loop_days (day, program_id, worker, members, first_ms, last_ms, longest_uptime_ms)
        SELECT h.hour - h.hour % 86400000, h.program_id, h.worker, SUM(h.members), MIN(h.first_ms), MAX(h.last_ms),
               MAX(h.longest_uptime_ms)
        FROM loop_hours h
        WHERE h.hour > :from - 86400000 AND h.hour < :until + 86400000
          AND h.hour - h.hour % 86400000 >= :from AND h.hour - h.hour % 86400000 <= :until
        GROUP BY 1, 2, 3;
        """

    /// The same for `program_days` from `program_hours` (hours with a restart delay only). One primary-key
    /// range per program.
    static let programRebuildSQL = """
        INSERT INTO program_days (program_id, day, max_restart_delay_ms)
        SELECT h.program_id, h.hour - h.hour % 86400000, MAX(h.max_restart_delay_ms)
        FROM programs p
        JOIN program_hours h ON h.program_id = p.id AND h.hour > :from - 86400000 AND h.hour < :until + 86400000
        WHERE h.max_restart_delay_ms IS NOT NULL
          AND h.hour - h.hour % 86400000 >= :from AND h.hour - h.hour % 86400000 <= :until
        GROUP BY 1, 2;
        """

    /// Makes the `loop_days` rows of the day buckets [from, through] match `loop_hours` again.
    static func rebuildLoopDays(_ db: Database, from: Int64, through: Int64) throws {
        try db.cachedStatement(sql: "DELETE FROM loop_days WHERE day >= ? AND day <= ?").execute(arguments: [from, through])
        try db.cachedStatement(sql: loopRebuildSQL).execute(arguments: ["from": from, "until": through])
    }

    /// Makes the `program_days` rows of the day buckets [from, through] match `program_hours` again.
    static func rebuildProgramDays(_ db: Database, from: Int64, through: Int64) throws {
        try db.cachedStatement(sql: """
            DELETE FROM program_days WHERE program_id IN (SELECT id FROM programs) AND day >= ? AND day <= ?
            """).execute(arguments: [from, through])
        try db.cachedStatement(sql: programRebuildSQL).execute(arguments: ["from": from, "until": through])
    }

    /// The day buckets holding the hours [from, until) (hour-aligned, from < until): those of the first
    /// and the last hour (the bucket function is monotonic).
    static func days(ofHours from: Int64, _ until: Int64) -> (from: Int64, through: Int64) {
        (day(from), day(until - 3_600_000))
    }
}
