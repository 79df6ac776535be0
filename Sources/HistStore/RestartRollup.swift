import GRDB
import Synchronization

/// The `restart_minutes` rollup (migrations/0014_restart_minutes.sql): per program and minute of the
/// restart_scheduled events, how many of those restarts happened (a start of the program followed in the
/// same run within the delay + 60 s) and followed no operator-caused end, and by when such a start is due.
/// Derived from `events` and `operator_effects` and exact.
///
/// The writer's part: the transaction's restarts, starts and operator-caused ends are noted in order (no
/// SQL), and `flush` matches them once all rows are in. A restart no start has matched yet waits in
/// memory (`waiting`, per program); a start matches the waiting restarts it falls within, so a crash loop
/// costs a dictionary lookup per start and one UPSERT per key and transaction, never a read of the
/// history. Whatever the memory cannot vouch for takes the database path instead, which recomputes the
/// affected minutes from the raw rows: a restart with a start of its program at or after it already
/// written (out of time order), a start at or before `recheckThrough` (restarts that were waiting were
/// forgotten: after a rollback, a prune, another connection's commit, or too many waiting), and an
/// operator-caused end (its instance's restarts since the instance started).
///
/// What it relies on: every event of a run comes through the one write session of that run (starts and
/// restarts match only within a run), and no restart_scheduled is recorded before the start of the
/// instance it names.
struct RestartRollup {
    static let minuteMs: Int64 = 60_000
    /// A start may come this long after a restart's delay and still make it happen (queries/status.sql).
    static let slackMs: Int64 = 60_000
    /// `reach_ms` above this puts a minute in `restart_minutes_far`; a start's minutes are the ones from
    /// this long before it, plus those.
    static let nearMs: Int64 = 3_720_000
    /// More waiting restarts than this (a program whose spawns keep failing) are forgotten at once.
    static let waitingLimit = 100_000
    /// Bumped by every retention step that deletes events or operator effects (Pruner): what waits in
    /// memory may name deleted rows.
    static let pruneGeneration = Atomic<UInt64>(0)

    struct Key: Hashable, Comparable {
        var programID: Int64
        var minute: Int64
        static func < (a: Key, b: Key) -> Bool { (a.programID, a.minute) < (b.programID, b.minute) }
    }

    enum Fact {
        case restart(programID: Int64, ts: Int64, value: Int64?, instance: Int64?)
        case start(programID: Int64, ts: Int64)
        case operatorEnded(instance: Int64)
    }

    struct Waiting {
        var ts: Int64
        /// The latest start that makes it happen: ts + value + 60 s.
        var due: Int64
        var instance: Int64?
    }

    /// This transaction's facts, in the order they were written.
    private var facts: [Fact] = []
    /// The run's restarts no start has matched yet, per program, oldest first.
    private var waiting: [Int64: [Waiting]] = [:]
    private var waitingCount = 0
    /// An upper bound of the newest start written per program (never lowered, so a rollback leaves it safe).
    private var maxStart: [Int64: Int64] = [:]
    /// Starts at or before this may match a restart that was forgotten: they take the database path.
    private var recheckThrough = Int64.min
    /// Instance rows this session wrote an operator-caused end for (only these need the database check).
    private var operatorEnded: Set<Int64> = []
    private var seen: (generation: UInt64, dataVersion: Int64) = (0, -1)
    /// Per program, the minute last written and a reach its row has at least: a restart of that minute
    /// that neither happened nor reaches further needs no UPSERT (restarts that never see a start, e.g.
    /// a program whose spawns keep failing, cost no statement per transaction). Forgotten with `waiting`.
    private var written: [Int64: (minute: Int64, reach: Int64)] = [:]

    static func minute(_ ts: Int64) -> Int64 { ts - ts % minuteMs }

    /// `reach_ms` of a restart with delay `value`: minute + 60 s + value + 60 s is at or after ts + value + 60 s,
    /// whatever ts within the minute (so every restart of a minute with the same delay has the same reach).
    static func reach(_ value: Int64) -> Int64 {
        let (r, o) = value.addingReportingOverflow(2 * slackMs)
        return o ? (value > 0 ? .max : .min) : r
    }

    /// ts + value + 60 s, saturating.
    static func due(_ ts: Int64, _ value: Int64) -> Int64 {
        let (a, o1) = ts.addingReportingOverflow(value)
        if o1 { return value > 0 ? .max : .min }
        let (b, o2) = a.addingReportingOverflow(slackMs)
        return o2 ? .max : b
    }

    mutating func add(_ fact: Fact) { facts.append(fact) }

    /// Forgets the transaction's facts (a new transaction starts).
    mutating func discard() { facts.removeAll(keepingCapacity: true) }

    /// The transaction rolled back: what `flush` put in memory may describe rows that do not exist.
    mutating func rolledBack() {
        facts.removeAll()
        forgetWaiting()
    }

    /// Forgets every waiting restart; starts they could match take the database path.
    private mutating func forgetWaiting() {
        for list in waiting.values {
            for w in list { recheckThrough = max(recheckThrough, w.due) }
        }
        waiting.removeAll()
        waitingCount = 0
        written.removeAll()
    }

    /// Brings `restart_minutes` up to date with this transaction's rows, inside it, after every insert.
    mutating func flush(_ db: Database, runID: Int64?) throws {
        guard !facts.isEmpty else { return }
        defer { discard() }
        let generation = Self.pruneGeneration.load(ordering: .acquiring)
        let version = try Int64.fetchOne(db, sql: "PRAGMA data_version") ?? 0
        if seen.generation != generation || seen.dataVersion != version {
            forgetWaiting()
            seen = (generation, version)
        }
        for case .operatorEnded(let row) in facts { operatorEnded.insert(row) }
        var deltas: [Key: (restarts: Int64, reach: Int64)] = [:]
        var recheck: [(programID: Int64, ts: Int64)] = []
        var recompute = Set<Key>()
        for fact in facts {
            switch fact {
            case .restart(let p, let ts, let value, let instance):
                let key = Key(programID: p, minute: Self.minute(ts))
                let reach = Self.reach(value ?? 0)
                var d = deltas[key] ?? (0, reach)
                d.reach = max(d.reach, reach)
                deltas[key] = d
                guard let value else { continue } // no delay: never happened (status compares with NULL)
                let due = Self.due(ts, value)
                if ts <= maxStart[p] ?? .min, try Self.startExists(db, programID: p, runID: runID, from: ts, through: due) {
                    if try counts(db, instance) { deltas[key]!.restarts += 1 }
                } else {
                    waiting[p, default: []].append(Waiting(ts: ts, due: due, instance: instance))
                    waitingCount += 1
                }
            case .start(let p, let ts):
                maxStart[p] = max(maxStart[p] ?? ts, ts)
                if ts <= recheckThrough { recheck.append((p, ts)) }
                guard var list = waiting[p] else { continue }
                var kept: [Waiting] = []
                for w in list {
                    if w.ts <= ts && ts <= w.due {
                        if try counts(db, w.instance) { deltas[Key(programID: p, minute: Self.minute(w.ts)), default: (0, 0)].restarts += 1 }
                    } else {
                        kept.append(w)
                    }
                }
                waitingCount -= list.count - kept.count
                list = kept
                waiting[p] = list.isEmpty ? nil : list
            case .operatorEnded(let row):
                recompute.formUnion(try Self.keysOfRestarts(db, instance: row))
            }
        }
        if !deltas.isEmpty {
            // Bound through the C API: up to one row per program each transaction (no argument arrays).
            let raw = RawInsert(try db.cachedStatement(sql: Self.upsertSQL), db)
            for (k, d) in deltas {
                if d.restarts == 0, let w = written[k.programID], w.minute == k.minute, w.reach >= d.reach { continue }
                let w = written[k.programID]
                written[k.programID] = (k.minute, w?.minute == k.minute ? max(w!.reach, d.reach) : d.reach)
                raw.bind(1, k.programID)
                raw.bind(2, k.minute)
                raw.bind(3, d.restarts)
                raw.bind(4, d.reach)
                try raw.run()
            }
        }
        for r in recheck { recompute.formUnion(try Self.candidates(db, programID: r.programID, start: r.ts)) }
        if !recompute.isEmpty {
            try Self.recompute(db, recompute)
            for p in Set(recompute.map(\.programID)) { written[p] = nil }
            // A waiting restart in a recomputed minute that has its start now is counted there.
            for p in Set(recompute.map(\.programID)) {
                guard let list = waiting[p] else { continue }
                var kept: [Waiting] = []
                for w in list {
                    let inRecomputed = recompute.contains(Key(programID: p, minute: Self.minute(w.ts)))
                    if inRecomputed, try Self.startExists(db, programID: p, runID: runID, from: w.ts, through: w.due) { continue }
                    kept.append(w)
                }
                waitingCount -= list.count - kept.count
                waiting[p] = kept.isEmpty ? nil : kept
            }
        }
        if waitingCount > Self.waitingLimit { forgetWaiting() }
    }

    /// Whether a restart of `instance` counts: not after an end an operator caused.
    private func counts(_ db: Database, _ instance: Int64?) throws -> Bool {
        guard let instance, operatorEnded.contains(instance) else { return true }
        return try Int64.fetchOne(db.cachedStatement(sql: """
            SELECT 1 FROM operator_effects WHERE instance_id = ? AND effect = 'ended'
            """), arguments: [instance]) == nil
    }

    /// Whether the program has a start in the run within [from, through] (queries/status.sql's test).
    static func startExists(_ db: Database, programID: Int64, runID: Int64?, from: Int64, through: Int64) throws -> Bool {
        try Int64.fetchOne(db.cachedStatement(sql: """
            SELECT 1 FROM events b INDEXED BY events_kind_ts
            WHERE b.kind = 1 AND b.ts >= ? AND b.ts <= ? AND b.program_id = ? AND b.run_id IS ? LIMIT 1
            """), arguments: [from, through, programID, runID]) != nil
    }

    /// The minutes whose `restarts` a start of the program at `start` can change: those within the hour
    /// and two minutes before it (and the minute after, for the odd minute arithmetic of negative times)
    /// that reach it, plus the far-reaching ones of `restart_minutes_far`.
    static func candidates(_ db: Database, programID: Int64, start: Int64) throws -> Set<Key> {
        let minutes = try Int64.fetchAll(db.cachedStatement(sql: """
            SELECT minute FROM restart_minutes
            WHERE program_id = ?1 AND minute >= ?2 - \(nearMs) AND minute <= ?2 + \(minuteMs) AND minute + reach_ms >= ?2
            UNION
            SELECT minute FROM restart_minutes INDEXED BY restart_minutes_far
            WHERE reach_ms > \(nearMs) AND minute + reach_ms >= ?2 AND program_id = ?1 AND minute <= ?2 + \(minuteMs)
            """), arguments: [programID, start])
        return Set(minutes.map { Key(programID: programID, minute: $0) })
    }

    /// The minutes of the restarts that name `instance` (its program's, since it started).
    static func keysOfRestarts(_ db: Database, instance: Int64) throws -> Set<Key> {
        let rows = try Row.fetchAll(db.cachedStatement(sql: """
            SELECT DISTINCT e.program_id, e.ts - e.ts % 60000 FROM events e INDEXED BY events_kind_ts
            WHERE e.kind = 4 AND e.ts >= (SELECT started_at FROM instances WHERE id = ?1)
              AND e.program_id = (SELECT program_id FROM instances WHERE id = ?1) AND e.instance_id = ?1
            """), arguments: [instance])
        return Set(rows.map { Key(programID: $0[0], minute: $0[1]) })
    }

    /// Makes the rows of `keys` match the raw rows again (runs of consecutive minutes in one statement).
    static func recompute(_ db: Database, _ keys: Set<Key>) throws {
        var run: (p: Int64, from: Int64, until: Int64)?
        for k in keys.sorted() {
            if let r = run, r.p == k.programID, r.until == k.minute {
                run!.until = k.minute + minuteMs
                continue
            }
            if let r = run { try rebuild(db, programID: r.p, from: r.from, until: r.until) }
            run = (k.programID, k.minute, k.minute + minuteMs)
        }
        if let r = run { try rebuild(db, programID: r.p, from: r.from, until: r.until) }
    }

    /// After retention deleted events (kind, ts, program): the minutes of deleted restarts, and those a
    /// deleted start could have made happen, are recomputed.
    static func pruned(_ db: Database, deleted: [(kind: Int64, ts: Int64, programID: Int64?)]) throws {
        var keys = Set<Key>()
        for d in deleted {
            guard let p = d.programID else { continue }
            switch d.kind {
            case 4: keys.insert(Key(programID: p, minute: minute(d.ts)))
            case 1: keys.formUnion(try candidates(db, programID: p, start: d.ts))
            default: break
            }
        }
        guard !keys.isEmpty else { return }
        pruneGeneration.add(1, ordering: .releasing)
        try recompute(db, keys)
    }

    /// The writer's UPSERT: adds restarts to a key, widens its reach.
    static let upsertSQL = """
        INSERT INTO restart_minutes (program_id, minute, restarts, reach_ms) VALUES (?, ?, ?, ?)
        ON CONFLICT (program_id, minute) DO UPDATE SET
            restarts = restarts + excluded.restarts, reach_ms = max(reach_ms, excluded.reach_ms)
        """

    /// Recomputes the rows of the minutes in [:from, :until) of program :program (NULL: every program)
    /// from the raw rows (the rows must have been deleted first): each restart's first start of the same
    /// program and run at or after it, in one sorted pass (a window), instead of a search per restart.
    /// migrations/0014_restart_minutes.sql runs the same statement over the whole time range.
    static let rebuildSQL = """
        WITH
        r AS (
            SELECT e.program_id AS p, e.run_id AS run, e.ts AS ts, e.value AS value, e.instance_id AS inst
            FROM events e
            WHERE e.kind = 4 AND e.program_id IS NOT NULL AND e.ts > :from - 60000 AND e.ts < :until + 60000
              AND e.ts - e.ts % 60000 >= :from AND e.ts - e.ts % 60000 < :until
              AND (:program IS NULL OR e.program_id = :program)
        ),
        s AS (
            SELECT b.program_id AS p, b.run_id AS run, b.ts AS ts
            FROM events b
            WHERE b.kind = 1 AND b.program_id IS NOT NULL AND b.ts > :from - 60000 AND b.ts <= (SELECT max(ts + value + 60000) FROM r)
              AND (:program IS NULL OR b.program_id = :program)
        ),
        m AS (
            SELECT k, p, ts, value, inst,
                   MIN(CASE WHEN k = 1 THEN ts END) OVER (PARTITION BY p, run ORDER BY ts, k DESC
                                                          ROWS BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING) AS next_start
            FROM (SELECT 4 AS k, p, run, ts, value, inst FROM r UNION ALL SELECT 1, p, run, ts, NULL, NULL FROM s)
        )
        INSERT INTO restart_minutes (program_id, minute, restarts, reach_ms)
        SELECT p, ts - ts % 60000,
               COUNT(CASE WHEN next_start <= ts + value + 60000
                           AND NOT EXISTS (SELECT 1 FROM operator_effects f WHERE f.instance_id = m.inst AND f.effect = 'ended')
                          THEN 1 END),
               MAX(coalesce(value, 0)) + 120000
        FROM m
        WHERE k = 4
        GROUP BY 1, 2;
        """

    /// Makes the rows of minutes [from, until) of one program, or of every program, match the raw rows again.
    static func rebuild(_ db: Database, programID: Int64?, from: Int64, until: Int64) throws {
        if let programID {
            try db.cachedStatement(sql: "DELETE FROM restart_minutes WHERE program_id = ? AND minute >= ? AND minute < ?")
                .execute(arguments: [programID, from, until])
        } else {
            try db.execute(sql: "DELETE FROM restart_minutes WHERE minute >= ? AND minute < ?", arguments: [from, until])
        }
        try db.cachedStatement(sql: rebuildSQL).execute(arguments: ["from": from, "until": until, "program": programID])
    }
}
