import GRDB

/// The `program_current` rollup (migrations/0016_program_current.sql): per program, pointers to its newest
/// instance, newest ended instance and newest lifecycle marks, which `histctl status` reads instead of one
/// index descent per program and lookup.
///
/// The writer moves the pointers forward once per transaction: one UPSERT per program and pointer with the
/// transaction's newest row (kept here as the rows are inserted, with their ids), one per instance ended
/// by an UPDATE, and for stop requests one statement over the transaction's own events (every row it
/// inserted has a larger id than any before it; NOT INDEXED, because the planner would otherwise take the
/// kind index and read every stop request of the history). Each keeps the newer of the stored and the new
/// row, so order within the batch does not matter.
/// Why not triggers on every insert: they cut the writer's plain event rows from ~364 k/s to ~105 k/s
/// (`histbench record`; BENCHMARKS.md). Deletes (retention) and row changes histd never makes are left to
/// 0016's triggers, which recompute a program's row from its definition, the view program_current_source.
struct ProgramCurrent {
    /// An event that may be a program's newest mark.
    struct Mark {
        var ts: Int64
        var id: Int64
        var kind: Int64
    }

    /// Per program, this transaction's newest restart_scheduled, gave_up or spawn_failed (kinds 4, 5, 9),
    /// and newest gave_up or spawn_failed.
    private var marks: [Int64: Mark] = [:]
    private var fails: [Int64: Mark] = [:]
    /// One less than the smallest events.id of a stop request (kind 6) in this transaction (nil: none).
    private var stopFloor: Int64?
    /// Per program, the newest instances row this transaction inserted, and the newest it inserted with
    /// its end (by started_at, then id).
    private var instances: [Int64: (startedAt: Int64, row: Int64)] = [:]
    private var ends: [Int64: (startedAt: Int64, row: Int64)] = [:]
    /// instances rows it ended with an UPDATE (an end in a later batch than the start).
    private var ended: [Int64] = []

    /// Forgets the last transaction (committed or not).
    mutating func discard() {
        marks.removeAll(keepingCapacity: true)
        fails.removeAll(keepingCapacity: true)
        stopFloor = nil
        instances.removeAll(keepingCapacity: true)
        ends.removeAll(keepingCapacity: true)
        ended.removeAll(keepingCapacity: true)
    }

    /// An events row was inserted with `id`.
    @inline(__always) mutating func insertedEvent(kind: Int64, programID: Int64?, ts: Int64, id: Int64) {
        guard let programID else { return }
        switch kind {
        case 4:
            Self.keep(&marks, programID, Mark(ts: ts, id: id, kind: kind))
        case 5, 9:
            Self.keep(&marks, programID, Mark(ts: ts, id: id, kind: kind))
            Self.keep(&fails, programID, Mark(ts: ts, id: id, kind: kind))
        case 6:
            if stopFloor == nil { stopFloor = id - 1 } // ids grow within the transaction
        default:
            break
        }
    }

    @inline(__always) private static func keep(_ newest: inout [Int64: Mark], _ program: Int64, _ m: Mark) {
        if let old = newest[program], (old.ts, old.id) >= (m.ts, m.id) { return }
        newest[program] = m
    }

    /// An instances row was inserted as `row`, for `programID`, started at `startedAt`; `ended`: with its end.
    @inline(__always) mutating func insertedInstance(row: Int64, programID: Int64?, startedAt: Int64, ended: Bool) {
        guard let programID else { return } // refused (instances.program_id is NOT NULL)
        func keep(_ newest: inout [Int64: (startedAt: Int64, row: Int64)]) {
            if let old = newest[programID], (old.startedAt, old.row) >= (startedAt, row) { return }
            newest[programID] = (startedAt, row)
        }
        keep(&instances)
        if ended { keep(&ends) }
    }

    /// An existing instances row got its end.
    mutating func endedRow(_ row: Int64) { ended.append(row) }

    /// Writes this transaction's pointer moves, after all of its rows (events included) are inserted.
    func flush(_ db: Database) throws {
        if !instances.isEmpty {
            let statement = try db.cachedStatement(sql: Self.newInstanceSQL)
            for (program, i) in instances { try statement.execute(arguments: [program, i.row, i.startedAt]) }
        }
        if !ends.isEmpty {
            let statement = try db.cachedStatement(sql: Self.newEndSQL)
            for (program, i) in ends { try statement.execute(arguments: [program, i.row, i.startedAt]) }
        }
        if !ended.isEmpty {
            let statement = try db.cachedStatement(sql: Self.endedRowSQL)
            for row in ended { try statement.execute(arguments: [row]) }
        }
        if !marks.isEmpty {
            let statement = try db.cachedStatement(sql: Self.markSQL)
            for (program, m) in marks { try statement.execute(arguments: [program, m.ts, m.id, m.kind]) }
        }
        if !fails.isEmpty {
            let statement = try db.cachedStatement(sql: Self.failSQL)
            for (program, m) in fails { try statement.execute(arguments: [program, m.ts, m.id, m.kind]) }
        }
        if let floor = stopFloor { try db.cachedStatement(sql: Self.stopsSQL).execute(arguments: [floor]) }
    }

    /// Program ?1's newest instance of this transaction: row ?2, started at ?3, with whether a stop request
    /// names it (one may have been written in this transaction, or earlier and out of order).
    static let newInstanceSQL = """
        INSERT INTO program_current (program_id, inst_id, inst_started_at, inst_stop)
        VALUES (?1, ?2, ?3, EXISTS (
            SELECT 1 FROM events e WHERE e.kind = 6 AND e.ts >= ?3 AND e.program_id = ?1 AND e.instance_id = ?2))
        ON CONFLICT (program_id) DO UPDATE SET inst_id = excluded.inst_id, inst_started_at = excluded.inst_started_at,
                                               inst_stop = excluded.inst_stop
        WHERE inst_id IS NULL OR (excluded.inst_started_at, excluded.inst_id) > (inst_started_at, inst_id)
        """

    /// Program ?1's newest instance inserted with its end in this transaction: row ?2, started at ?3.
    static let newEndSQL = """
        INSERT INTO program_current (program_id, ended_id, ended_started_at) VALUES (?1, ?2, ?3)
        ON CONFLICT (program_id) DO UPDATE SET ended_id = excluded.ended_id, ended_started_at = excluded.ended_started_at
        WHERE ended_id IS NULL OR (excluded.ended_started_at, excluded.ended_id) > (ended_started_at, ended_id)
        """

    /// Instance ?1, ended by an UPDATE in this transaction.
    static let endedRowSQL = """
        INSERT INTO program_current (program_id, ended_id, ended_started_at)
        SELECT i.program_id, i.id, i.started_at FROM instances i WHERE i.id = ?1 AND i.ended_at IS NOT NULL
        ON CONFLICT (program_id) DO UPDATE SET ended_id = excluded.ended_id, ended_started_at = excluded.ended_started_at
        WHERE ended_id IS NULL OR (excluded.ended_started_at, excluded.ended_id) > (ended_started_at, ended_id)
        """

    /// Program ?1's newest restart_scheduled, gave_up or spawn_failed of this transaction: ts ?2, id ?3, kind ?4.
    static let markSQL = """
        INSERT INTO program_current (program_id, mark_ts, mark_id, mark_kind) VALUES (?1, ?2, ?3, ?4)
        ON CONFLICT (program_id) DO UPDATE SET mark_ts = excluded.mark_ts, mark_id = excluded.mark_id, mark_kind = excluded.mark_kind
        WHERE mark_id IS NULL OR (excluded.mark_ts, excluded.mark_id) > (mark_ts, mark_id)
        """

    /// Program ?1's newest gave_up or spawn_failed of this transaction.
    static let failSQL = """
        INSERT INTO program_current (program_id, fail_ts, fail_id, fail_kind) VALUES (?1, ?2, ?3, ?4)
        ON CONFLICT (program_id) DO UPDATE SET fail_ts = excluded.fail_ts, fail_id = excluded.fail_id, fail_kind = excluded.fail_kind
        WHERE fail_id IS NULL OR (excluded.fail_ts, excluded.fail_id) > (fail_ts, fail_id)
        """

    /// A stop request after ?1 for a program's newest instance, at or after its start.
    static let stopsSQL = """
        UPDATE program_current SET inst_stop = 1
        FROM (SELECT e.program_id, e.instance_id, e.ts FROM events e NOT INDEXED WHERE e.id > ?1 AND e.kind = 6) s
        WHERE program_current.program_id = s.program_id AND program_current.inst_id = s.instance_id
          AND s.ts >= program_current.inst_started_at AND program_current.inst_stop = 0
        """
}
