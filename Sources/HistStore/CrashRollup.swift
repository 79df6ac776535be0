import GRDB

/// The `crash_hours` rollup (migrations/0007_rollups.sql): crashes and limit kills per UTC hour of
/// their end, program, pool worker slot and outcome. Derived from `instances` and exact: the writer
/// adds each crash in the transaction that records its end, and retention prunes it with its instances.
///
/// The writer's part is an in-memory batch: `add` per crash end (a dictionary update, no SQL), then
/// `flush` at the end of the transaction, one UPSERT per distinct key. A crash loop of 1,000 crashes
/// of one program in one batch costs one statement, not 1,000.
struct CrashRollup {
    /// One hour, in ms.
    static let hourMs: Int64 = 3_600_000

    struct Key: Hashable {
        var hour: Int64
        var programID: Int64
        var worker: Int64
        var limit: Bool
        var exitCode: Int64
        var signal: Int64
    }

    struct Totals {
        var crashes: Int64
        var first: Int64
        var last: Int64
    }

    private(set) var pending: [Key: Totals] = [:]

    var isEmpty: Bool { pending.isEmpty }

    /// The start of the UTC hour holding `ms`, computed as the SQL does (`ended_at - ended_at % 3600000`).
    static func hour(_ ms: Int64) -> Int64 { ms - ms % hourMs }

    /// Counts one instance end when it is a crash or a limit kill (other classes are ignored).
    mutating func add(programID: Int64, worker: Int?, class cls: String, exitCode: Int32?, signal: Int32?, endedAt: Int64) {
        guard cls == "crash" || cls == "limit" else { return }
        let key = Key(hour: Self.hour(endedAt), programID: programID, worker: worker.map(Int64.init) ?? -1,
                      limit: cls == "limit", exitCode: exitCode.map(Int64.init) ?? -1, signal: signal.map(Int64.init) ?? 0)
        if var t = pending[key] {
            t.crashes += 1
            t.first = min(t.first, endedAt)
            t.last = max(t.last, endedAt)
            pending[key] = t
        } else {
            pending[key] = Totals(crashes: 1, first: endedAt, last: endedAt)
        }
    }

    /// Forgets the batch (the transaction rolled back, or it was flushed).
    mutating func discard() { pending.removeAll(keepingCapacity: true) }

    /// Adds the batch to `crash_hours` inside the caller's transaction.
    mutating func flush(_ statement: Statement, _ db: Database) throws {
        guard !pending.isEmpty else { return }
        defer { discard() }
        let raw = RawInsert(statement, db)
        for (k, t) in pending {
            raw.bind(1, k.hour)
            raw.bind(2, k.programID)
            raw.bind(3, k.worker)
            raw.bind(4, k.limit ? "limit" : "crash")
            raw.bind(5, k.exitCode)
            raw.bind(6, k.signal)
            raw.bind(7, t.crashes)
            raw.bind(8, t.first)
            raw.bind(9, t.last)
            try raw.run()
        }
    }

    /// The writer's UPSERT: adds counts to an existing key, widens its first/last.
    static let upsertSQL = """
        INSERT INTO crash_hours (hour, program_id, worker, class, exit_code, signal, crashes, first_ms, last_ms)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (hour, program_id, worker, class, exit_code, signal) DO UPDATE SET
            crashes = crashes + excluded.crashes, first_ms = min(first_ms, excluded.first_ms),
            last_ms = max(last_ms, excluded.last_ms)
        """

    /// Recomputes the rows of ends in [:from, :until) from `instances` (the rows must have been deleted
    /// first). migrations/0007_rollups.sql runs the same statement over the whole time range.
    static let rebuildSQL = """
        INSERT INTO crash_hours (hour, program_id, worker, class, exit_code, signal, crashes, first_ms, last_ms)
        SELECT i.ended_at - i.ended_at % 3600000, i.program_id, coalesce(i.worker_index, -1), i.class,
               coalesce(i.exit_code, -1), coalesce(i.signal, 0), COUNT(*), MIN(i.ended_at), MAX(i.ended_at)
        FROM instances i
        WHERE i.class IN ('crash', 'limit') AND i.ended_at IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM operator_effects f WHERE f.instance_id = i.id AND f.effect = 'ended')
          AND i.ended_at >= :from AND i.ended_at < :until
        GROUP BY 1, 2, 3, 4, 5, 6;
        """

    /// Makes the rows of the hours in [from, until) (hour-aligned) match `instances` again.
    static func rebuild(_ db: Database, from: Int64, until: Int64) throws {
        try db.execute(sql: "DELETE FROM crash_hours WHERE hour >= ? AND hour < ?", arguments: [from, until])
        try db.execute(sql: rebuildSQL, arguments: ["from": from, "until": until])
    }
}

/// Rollup maintenance for tools that write instances without the writer (fixtures, imports).
public enum HistoryRollups {
    /// The statement that derives `crash_hours` rows from `instances` for ends in [:from, :until).
    public static var rebuildSQL: String { CrashRollup.rebuildSQL }

    /// Rebuilds every rollup row from the raw rows, in the caller's transaction: the result is what the
    /// writer would have produced for the same instances.
    public static func rebuildAll(_ db: Database) throws {
        try CrashRollup.rebuild(db, from: Int64.min + 1, until: Int64.max)
        try LoopRollup.rebuild(db, from: -(1 << 62), until: 1 << 62)
        try ProgramHours.rebuild(db, from: -(1 << 62), until: 1 << 62)
        try DayRollups.rebuildLoopDays(db, from: -(1 << 62), through: 1 << 62)
        try DayRollups.rebuildProgramDays(db, from: -(1 << 62), through: 1 << 62)
        try RestartDelay.rebuildAll(db)
        try RestartRollup.rebuild(db, programID: nil, from: -(1 << 62), until: 1 << 62)
        // program_current (0016) is its definition, the view program_current_source, materialized; its
        // triggers keep it from then on.
        try db.execute(sql: "DELETE FROM program_current")
        try db.execute(sql: "INSERT INTO program_current SELECT * FROM program_current_source")
    }

    /// The statement that derives `restart_minutes` rows (migrations/0014_restart_minutes.sql) for the
    /// minutes [:from, :until) of program :program (NULL: all).
    public static var restartRebuildSQL: String { RestartRollup.rebuildSQL }

    /// The statements that derive `loop_hours` and `program_hours` rows (migrations/0011_loop_rollups.sql)
    /// for [:from, :until).
    public static var loopRebuildSQL: String { LoopRollup.rebuildSQL }
    public static var programHoursRebuildSQL: String { ProgramHours.rebuildSQL }

    /// The statements that derive `loop_days` and `program_days` rows (migrations/0015_day_rollups.sql)
    /// from the hour rollups for the day buckets [:from, :until] (both included).
    public static var loopDaysRebuildSQL: String { DayRollups.loopRebuildSQL }
    public static var programDaysRebuildSQL: String { DayRollups.programRebuildSQL }
}
