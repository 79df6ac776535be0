import GRDB
import Synchronization

/// The `loop_hours` rollup (migrations/0011_loop_rollups.sql): per UTC hour, program and worker slot, the
/// crashes that are in a crash loop by `histctl loops`' default definition (`CrashLoopMembers`, 3 crashes
/// inside 10 minutes). Derived from `instances` and `spawn_failed` events and exact: the writer adds the
/// crashes a transaction brings into loops before it commits, and retention recomputes the hours next to
/// what it prunes.
///
/// The writer's part: `add...` per crash of the transaction (no SQL), then `flush` once before the
/// commit. Per program with new crashes it reads the transaction's crashes' time span plus up to
/// 2 × (3 - 1) crashes on each side (before it within two windows; after it at any distance, so that it
/// knows whether these are the newest) (a crash's membership depends only on the crashes
/// within one window of it, and a new crash can only bring the crashes of runs of 3 it is in into a
/// loop), computes membership with and without the new crashes, and adds the difference. The cost does
/// not grow with the history or with the crash rate outside the transaction's own span. The common case,
/// a program's crashes arriving in time order, needs no read at all: the writer keeps each program's
/// newest 2(k - 1) crashes (`WriterCaches.loopTails`, undone with a rolled-back transaction, forgotten
/// after any prune in this process or any commit by another connection, e.g. `histctl prune`).
struct LoopRollup {
    /// Bumped by every retention step that deletes crashes (Pruner): cached tails may name deleted rows.
    static let pruneGeneration = Atomic<UInt64>(0)

    static let window = CrashLoopMembers.rollupWindowMs
    static let k = CrashLoopMembers.rollupMinCrashes
    static let hourMs: Int64 = 3_600_000

    /// One program's crashes of this transaction.
    struct Batch {
        var instanceRows: Set<Int64> = []
        /// The crashes themselves, for the fast path.
        var crashes: [Crash] = []
        var from = Int64.max
        var until = Int64.min
        mutating func widen(_ ts: Int64) {
            from = min(from, ts)
            until = max(until, ts)
        }
    }

    struct Key: Hashable {
        var hour: Int64
        var programID: Int64
        var worker: Int64
    }

    struct Totals {
        var members: Int64
        var first: Int64
        var last: Int64
        var longest: Int64?
    }

    /// One crash read back: instance row or spawn_failed event.
    struct Crash: Hashable {
        var ts: Int64
        var worker: Int64
        var uptime: Int64?
        var isNew: Bool
    }

    private(set) var batches: [Int64: Batch] = [:]
    /// Every spawn_failed event of this transaction has an id above this (the newest id before the first).
    private(set) var eventIDFloor: Int64?

    var isEmpty: Bool { batches.isEmpty }

    /// An instance end just written as a crash or limit kill that counts (not operator-caused).
    mutating func addInstance(programID: Int64, row: Int64, endedAt: Int64, worker: Int?, uptime: Int64) {
        batches[programID, default: Batch()].instanceRows.insert(row)
        batches[programID]!.crashes.append(Crash(ts: endedAt, worker: worker.map(Int64.init) ?? -1, uptime: uptime, isNew: true))
        batches[programID]!.widen(endedAt)
    }

    /// Whether the next spawn_failed needs `noteSpawnFailure(floor:)` with the current newest event id.
    var needsEventIDFloor: Bool { eventIDFloor == nil }

    /// A spawn_failed event of this transaction (appended after `floor` was taken, see `needsEventIDFloor`).
    mutating func addSpawnFailure(programID: Int64, ts: Int64, worker: Int?, floor: Int64?) {
        if eventIDFloor == nil { eventIDFloor = floor ?? 0 }
        batches[programID, default: Batch()].crashes.append(Crash(ts: ts, worker: worker.map(Int64.init) ?? -1, uptime: nil, isNew: true))
        batches[programID]!.widen(ts)
    }

    mutating func discard() {
        batches.removeAll(keepingCapacity: true)
        eventIDFloor = nil
    }

    /// Adds this transaction's loop members to `loop_hours`, inside the transaction, after every row of
    /// it has been written.
    mutating func flush(_ db: Database, _ caches: inout WriterCaches) throws {
        guard !batches.isEmpty else { return }
        defer { discard() }
        try forgetTailsIfPruned(db, &caches)
        let context = 2 * (Self.k - 1)
        var totals: [Key: Totals] = [:]
        for (programID, batch) in batches {
            let crashes: [Crash]
            if let tail = caches.loopTails[programID], batch.from > (tail.last?.ts ?? .min) {
                // In time order after the newest known crash: the tail is the whole neighbourhood.
                crashes = tail.filter { $0.ts >= batch.from - 2 * Self.window } + batch.crashes.sorted { $0.ts < $1.ts }
                caches.setLoopTail(programID, Self.tail(of: crashes, context))
            } else {
                let read = try Self.neighbourhood(db, programID: programID, batch: batch, eventIDFloor: eventIDFloor)
                crashes = read
                // The newest crashes are known when none came after this transaction's span.
                let tail: [Crash]? = (read.last?.ts ?? .min) <= batch.until ? Self.tail(of: read, context) : nil
                caches.setLoopTail(programID, tail)
            }
            for c in Self.joined(crashes, from: batch.from, until: batch.until) {
                let key = Key(hour: c.ts - c.ts % Self.hourMs, programID: programID, worker: c.worker)
                if var t = totals[key] {
                    t.members += 1
                    t.first = min(t.first, c.ts)
                    t.last = max(t.last, c.ts)
                    if let u = c.uptime { t.longest = max(t.longest ?? u, u) }
                    totals[key] = t
                } else {
                    totals[key] = Totals(members: 1, first: c.ts, last: c.ts, longest: c.uptime)
                }
            }
        }
        guard !totals.isEmpty else { return }
        let st = try db.cachedStatement(sql: Self.upsertSQL)
        // The same totals per day for loop_days (migrations/0015_day_rollups.sql): an hour lies in one day.
        var days: [Key: Totals] = [:]
        for (k, t) in totals {
            try st.execute(arguments: [k.hour, k.programID, k.worker, t.members, t.first, t.last, t.longest])
            let day = Key(hour: DayRollups.day(k.hour), programID: k.programID, worker: k.worker)
            if let d = days[day] {
                days[day] = Totals(members: d.members + t.members, first: min(d.first, t.first), last: max(d.last, t.last),
                                   longest: Self.larger(d.longest, t.longest))
            } else {
                days[day] = t
            }
        }
        let dayStatement = try db.cachedStatement(sql: DayRollups.loopUpsertSQL)
        for (k, t) in days {
            try dayStatement.execute(arguments: [k.hour, k.programID, k.worker, t.members, t.first, t.last, t.longest])
        }
    }

    static func larger(_ a: Int64?, _ b: Int64?) -> Int64? {
        guard let a else { return b }
        guard let b else { return a }
        return max(a, b)
    }

    /// The newest `n` crashes, all marked old (for the next transaction).
    static func tail(of crashes: [Crash], _ n: Int) -> [Crash] {
        crashes.suffix(n).map { var c = $0; c.isNew = false; return c }
    }

    private func forgetTailsIfPruned(_ db: Database, _ caches: inout WriterCaches) throws {
        let generation = Self.pruneGeneration.load(ordering: .acquiring)
        let version = try Int64.fetchOne(db, sql: "PRAGMA data_version") ?? 0
        if caches.loopTailsSeen.generation != generation || caches.loopTailsSeen.dataVersion != version {
            caches.clearLoopTails()
            caches.loopTailsSeen = (generation, version)
        }
    }

    /// The crashes that join a loop because of the new ones (new crashes included), from `crashes` sorted
    /// by time: computed within two windows of [from, until] and at most k - 1 places from a new crash.
    static func joined(_ crashes: [Crash], from: Int64, until: Int64) -> [Crash] {
        let all = crashes.map(\.ts)
        let oldIndexes = crashes.indices.filter { !crashes[$0].isNew }
        let before = Set(CrashLoopMembers.members(ts: oldIndexes.map { all[$0] }, window: window, minCrashes: k).map { oldIndexes[$0] })
        let after = CrashLoopMembers.members(ts: all, window: window, minCrashes: k)
        var near = Array(repeating: false, count: crashes.count)
        for i in crashes.indices where crashes[i].isNew {
            for j in max(0, i - (k - 1))...min(crashes.count - 1, i + (k - 1)) { near[j] = true }
        }
        return after.filter { i in
            near[i] && !before.contains(i) && crashes[i].ts >= from - window && crashes[i].ts <= until + window
        }.map { crashes[$0] }
    }

    /// The program's crashes in [from, until], plus the 2(k - 1) nearest before it within two windows and
    /// the 2(k - 1) nearest after it at any distance, sorted by time. `isNew`: written by this transaction.
    /// After it at any distance: so that the last one read is the program's newest crash, and `flush` keeps
    /// the tail only when nothing came after the batch. Bounded by two windows, crashes more than two
    /// windows later (a batch written behind the newest ones, e.g. after a clock step back) went unseen, the
    /// tail was kept as if the batch's were the newest, and the next batch's fast path skipped the crashes
    /// between them (loop_hours then lacked members: seen in LoopRollupEquivalenceTests with overlapping
    /// slices). One farther crash read costs nothing: it cannot change and is not counted (`joined`).
    static func neighbourhood(_ db: Database, programID: Int64, batch: Batch, eventIDFloor: Int64?) throws -> [Crash] {
        let context = 2 * (k - 1)
        let lo = batch.from - 2 * window
        var out: [Crash] = []
        func instances(_ sql: String, _ args: StatementArguments) throws {
            let rows = try Row.fetchCursor(db.cachedStatement(sql: sql), arguments: args)
            while let r = try rows.next() {
                let id: Int64 = r[0]
                out.append(Crash(ts: r[1], worker: r[2], uptime: r[3], isNew: batch.instanceRows.contains(id)))
            }
        }
        func failures(_ sql: String, _ args: StatementArguments) throws {
            let rows = try Row.fetchCursor(db.cachedStatement(sql: sql), arguments: args)
            while let r = try rows.next() {
                let id: Int64 = r[0]
                out.append(Crash(ts: r[1], worker: r[2], uptime: nil, isNew: eventIDFloor.map { id > $0 } ?? false))
            }
        }
        try instances(instanceSQL(where: "i.ended_at >= ? AND i.ended_at <= ?", order: ""), [programID, batch.from, batch.until])
        try instances(instanceSQL(where: "i.ended_at >= ? AND i.ended_at < ?", order: "ORDER BY i.ended_at DESC LIMIT \(context)"),
                      [programID, lo, batch.from])
        try instances(instanceSQL(where: "i.ended_at > ?", order: "ORDER BY i.ended_at LIMIT \(context)"),
                      [programID, batch.until])
        try failures(failureSQL(where: "e.ts >= ? AND e.ts <= ?", order: ""), [programID, batch.from, batch.until])
        try failures(failureSQL(where: "e.ts >= ? AND e.ts < ?", order: "ORDER BY e.ts DESC LIMIT \(context)"), [programID, lo, batch.from])
        try failures(failureSQL(where: "e.ts > ?", order: "ORDER BY e.ts LIMIT \(context)"), [programID, batch.until])
        // Two sources each gave up to `context` on each side; keep the nearest `context` of both.
        out.sort { $0.ts < $1.ts }
        let firstInside = out.firstIndex { $0.ts >= batch.from } ?? out.count
        let lastInside = out.lastIndex { $0.ts <= batch.until } ?? -1
        let start = max(0, firstInside - context)
        let end = min(out.count, lastInside + 1 + context)
        return start < end ? Array(out[start..<end]) : []
    }

    static func instanceSQL(where range: String, order: String) -> String {
        """
        SELECT i.id, i.ended_at, coalesce(i.worker_index, -1), i.uptime_ms
        FROM instances i INDEXED BY instances_crashes
        WHERE i.program_id = ? AND i.class IN ('crash', 'limit') AND \(range)
          AND NOT EXISTS (SELECT 1 FROM operator_effects f WHERE f.instance_id = i.id AND f.effect = 'ended')
        \(order)
        """
    }

    static func failureSQL(where range: String, order: String) -> String {
        """
        SELECT e.id, e.ts, coalesce(json_extract(e.detail, '$.worker_index'), -1)
        FROM events e INDEXED BY events_kind_ts
        WHERE e.kind = 9 AND e.program_id = ? AND \(range)
        \(order)
        """
    }

    /// The writer's UPSERT: adds members to an existing key, widens first/last and the longest uptime.
    static let upsertSQL = upsertSQL(table: "loop_hours", bucket: "hour")

    /// The UPSERT of a loop rollup keyed by (`bucket`, program_id, worker): `loop_hours`, and `loop_days`
    /// (DayRollups), which must merge exactly alike.
    static func upsertSQL(table: String, bucket: String) -> String {
        """
        INSERT INTO \(table) (\(bucket), program_id, worker, members, first_ms, last_ms, longest_uptime_ms)
        VALUES (?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (\(bucket), program_id, worker) DO UPDATE SET
            members = members + excluded.members, first_ms = min(first_ms, excluded.first_ms),
            last_ms = max(last_ms, excluded.last_ms),
            longest_uptime_ms = CASE WHEN excluded.longest_uptime_ms IS NULL THEN longest_uptime_ms
                                     WHEN longest_uptime_ms IS NULL THEN excluded.longest_uptime_ms
                                     ELSE max(longest_uptime_ms, excluded.longest_uptime_ms) END
        """
    }

    /// Recomputes the rows of crashes in [:from, :until) from the raw rows (the rows must have been
    /// deleted first), with one window of context on each side. migrations/0011_loop_rollups.sql runs the
    /// same statement over the whole time range. The runs of 3 are spelled out: lag/lead by 1 and 2.
    static let rebuildSQL = """
        WITH
        c AS (
            SELECT i.program_id AS p, i.ended_at AS ts, coalesce(i.worker_index, -1) AS w, i.uptime_ms AS up
            FROM instances i
            WHERE i.class IN ('crash', 'limit') AND i.ended_at >= :from - 600000 AND i.ended_at < :until + 600000
              AND NOT EXISTS (SELECT 1 FROM operator_effects f WHERE f.instance_id = i.id AND f.effect = 'ended')
            UNION ALL
            SELECT e.program_id, e.ts, coalesce(json_extract(e.detail, '$.worker_index'), -1), NULL
            FROM events e
            WHERE e.kind = 9 AND e.program_id IS NOT NULL AND e.ts >= :from - 600000 AND e.ts < :until + 600000
        ),
        m AS (
            SELECT p, ts, w, up, lag(ts, 2) OVER win AS b2, lag(ts, 1) OVER win AS b1, lead(ts, 1) OVER win AS a1, lead(ts, 2) OVER win AS a2
            FROM c WINDOW win AS (PARTITION BY p ORDER BY ts)
        )
        INSERT INTO loop_hours (hour, program_id, worker, members, first_ms, last_ms, longest_uptime_ms)
        SELECT ts - ts % 3600000, p, w, COUNT(*), MIN(ts), MAX(ts), MAX(up)
        FROM m
        WHERE ts >= :from AND ts < :until
          AND (a2 - ts <= 600000 OR a1 - b1 <= 600000 OR ts - b2 <= 600000)
        GROUP BY 1, 2, 3;
        """

    /// Makes the rows of the hours in [from, until) (hour-aligned) match the raw rows again.
    static func rebuild(_ db: Database, from: Int64, until: Int64) throws {
        try db.execute(sql: "DELETE FROM loop_hours WHERE hour >= ? AND hour < ?", arguments: [from, until])
        try db.execute(sql: rebuildSQL, arguments: ["from": from, "until": until])
    }

    /// The hour-aligned [from, until) holding every crash whose membership can change when crashes in
    /// [lo, hi] are added or removed (one window on each side).
    static func affectedHours(_ lo: Int64, _ hi: Int64) -> (Int64, Int64) {
        let a = lo - window, b = hi + window
        return (a - a % hourMs, b - b % hourMs + hourMs)
    }
}
