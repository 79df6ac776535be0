import GRDB
import GRDBSQLite
import HistModel

/// The postmortem's memory and CPU series, read from the raw snapshots in one pass: the same answer as
/// queries/usage.sql (which stays the reference: UsageEquivalenceTests holds the two equal on randomized
/// histories), about ten times cheaper.
///
/// Why not SQL: usage.sql looks up each sample's previous-sweep sample and its instance row by primary
/// key (two B-tree descents per sample, 75,000 samples in a 1 h window of the 30-day fixture: ~300 ms
/// CPU). Here the snapshots of the window and of the sweep before it come in primary-key order from one
/// range scan, so each sweep's samples are compared with the previous sweep's in a dictionary, and each
/// instance's program is looked up once (a few thousand instances, not 75,000 samples).
///
/// Per sweep and program: RSS is the sum of the instances' `rss_kb`; CPU% is
/// `Σ max(0, Δ(utime + stime)) × 1000 / Δt_ms` over the instances that have a sample in the previous sweep
/// (by id, as in `snapshots_with_rates`), nil when none has one or the clock did not move forward. A bucket
/// keeps the largest of each, and the time of its first sweep.
enum UsageReader {
    /// One series per program (ordered by name, as SQLite's BINARY collation orders them), points ordered
    /// by bucket; only programs in `programs` (empty: all).
    static func series(_ db: Database, since: Int64, until: Int64, buckets: Int, programs: [String]) throws -> [UsageSeries] {
        guard until > since, buckets > 0, let handle = db.sqliteConnection else { return [] }
        // The window's sweeps and the one before the first (by id): a contiguous id range.
        let bounds = try Row.fetchOne(db, sql: """
            SELECT min(id), max(id) FROM sweeps WHERE ts >= ? AND ts < ?
            """, arguments: [since, until])
        guard let bounds, let firstID = bounds[0] as Int64?, let lastID = bounds[1] as Int64? else { return [] }
        let fromID = try Int64.fetchOne(db, sql: "SELECT max(id) FROM sweeps WHERE id < ?", arguments: [firstID]) ?? firstID
        // Each sweep's time and its predecessor by id (the sweep before it in the table, with or without samples).
        var sweepTS: [Int64: Int64] = [:]
        var predecessor: [Int64: Int64] = [:]
        var last: Int64?
        for row in try Row.fetchAll(db, sql: "SELECT id, ts FROM sweeps WHERE id BETWEEN ? AND ? ORDER BY id", arguments: [fromID, lastID]) {
            let id: Int64 = row[0], ts: Int64 = row[1]
            sweepTS[id] = ts
            if let last { predecessor[id] = last }
            last = id
        }

        // Programs as dense slots (arrays instead of hashing per sample); only kept programs get one.
        let keep = Set(programs)
        var slotOf: [Int64: Int] = [:]
        var slotName: [String] = []
        for row in try Row.fetchAll(db, sql: "SELECT id, name FROM programs") {
            let name: String = row[1]
            guard keep.isEmpty || keep.contains(name) else { continue }
            slotOf[row[0]] = slotName.count
            slotName.append(name)
        }

        // Instance -> slot, looked up once per instance: -1 = no instances row (the SQL's inner join
        // drops the sample) or a program not kept.
        let programOf = try db.makeStatement(sql: "SELECT program_id FROM instances WHERE id = ?")
        var instanceSlot: [Int64: Int] = [:]
        func slot(_ instance: Int64) -> Int {
            if let known = instanceSlot[instance] { return known }
            let st = programOf.sqliteStatement
            sqlite3_reset(st)
            sqlite3_bind_int64(st, 1, instance)
            let p: Int64? = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : nil
            sqlite3_reset(st)
            let s = p.flatMap { slotOf[$0] } ?? -1
            instanceSlot[instance] = s
            return s
        }

        // A sweep's samples in instance order (the primary key's), with each instance's slot: the next
        // sweep finds an instance's previous sample by walking this list alongside its own.
        struct Sample { var instance: Int64; var ticks: Int64; var slot: Int }
        var prev: [Sample] = [], cur: [Sample] = []
        var prevSweep: Int64?
        var series = [[UsageSeries.Point]](repeating: [], count: slotName.count)
        // Per slot in the current sweep: RSS sum, CPU tick sum and whether any instance had a previous sample.
        var rss = [Int64](repeating: 0, count: slotName.count), cpu = rss
        var hasCPU = [Bool](repeating: false, count: slotName.count), isTouched = hasCPU, touched: [Int] = []
        let span = Int128(until) - Int128(since)

        func finish(_ sweep: Int64) {
            defer {
                swap(&prev, &cur)
                cur.removeAll(keepingCapacity: true)
                for s in touched { rss[s] = 0; cpu[s] = 0; hasCPU[s] = false; isTouched[s] = false }
                touched.removeAll(keepingCapacity: true)
                prevSweep = sweep
            }
            guard let ts = sweepTS[sweep], ts >= since, ts < until else { return }
            let bucket = Int((Int128(ts) - Int128(since)) * Int128(buckets) / span)
            let dt = prevSweep.flatMap { sweepTS[$0] }.map { ts - $0 }
            for s in touched {
                let r = Double(rss[s])
                let c: Double? = if hasCPU[s], let dt, dt > 0 { Double(cpu[s]) * 1000.0 / Double(dt) } else { nil }
                // Sweeps come in id order, so buckets mostly do too; a clock that stepped back may send a
                // sweep to an earlier bucket (binary search).
                var at = series[s].count
                if let last = series[s].last, last.bucket >= bucket {
                    var lo = 0, hi = series[s].count
                    while lo < hi {
                        let mid = (lo + hi) / 2
                        if series[s][mid].bucket < bucket { lo = mid + 1 } else { hi = mid }
                    }
                    at = lo
                }
                if at < series[s].count, series[s][at].bucket == bucket {
                    // The bucket's earliest sweep (ids need not follow time when the clock stepped back).
                    if ts < series[s][at].time.milliseconds { series[s][at].time = Timestamp(milliseconds: ts) }
                    series[s][at].rssKB = max(series[s][at].rssKB ?? r, r)
                    if let c { series[s][at].cpuPercent = max(series[s][at].cpuPercent ?? c, c) }
                } else {
                    series[s].insert(UsageSeries.Point(bucket: bucket, time: Timestamp(milliseconds: ts), rssKB: r, cpuPercent: c), at: at)
                }
            }
        }

        let scan = try db.makeStatement(sql: """
            SELECT sweep_id, instance_id, utime + stime, rss_kb FROM snapshots WHERE sweep_id BETWEEN ? AND ?
            """)
        let st = scan.sqliteStatement
        sqlite3_bind_int64(st, 1, fromID)
        sqlite3_bind_int64(st, 2, lastID)
        defer { sqlite3_reset(st) }
        var current: Int64?
        var inWindow = false, moved = false
        var ts: Int64 = 0
        var p = 0 // position in `prev`
        while true {
            let rc = sqlite3_step(st)
            if rc == SQLITE_DONE { break }
            guard rc == SQLITE_ROW else { throw DatabaseError(resultCode: ResultCode(rawValue: rc), message: String(cString: sqlite3_errmsg(handle))) }
            let sweep = sqlite3_column_int64(st, 0), instance = sqlite3_column_int64(st, 1)
            let ticks = sqlite3_column_int64(st, 2), rssKB = sqlite3_column_int64(st, 3)
            if sweep != current {
                if let current { finish(current) }
                // The samples to compare with are the predecessor's; when it had none (an empty sweep in
                // between, or the first sweep of the range), nothing carries over.
                if prevSweep == nil || prevSweep != predecessor[sweep] { prev.removeAll(keepingCapacity: true) }
                prevSweep = predecessor[sweep]
                current = sweep
                ts = sweepTS[sweep] ?? 0
                inWindow = sweepTS[sweep] != nil && ts >= since && ts < until
                moved = prevSweep.flatMap { sweepTS[$0] }.map { ts > $0 } ?? false
                p = 0
            }
            while p < prev.count && prev[p].instance < instance { p += 1 }
            let before: Sample? = p < prev.count && prev[p].instance == instance ? prev[p] : nil
            let s = before?.slot ?? slot(instance)
            cur.append(Sample(instance: instance, ticks: ticks, slot: s))
            guard inWindow, s >= 0 else { continue }
            if !isTouched[s] { isTouched[s] = true; touched.append(s) }
            rss[s] += rssKB
            if let before, moved {
                cpu[s] += max(0, ticks - before.ticks)
                hasCPU[s] = true
            }
        }
        if let current { finish(current) }

        return slotName.indices.compactMap { s -> UsageSeries? in
            series[s].isEmpty ? nil : UsageSeries(program: slotName[s], points: series[s])
        }.sorted { $0.program.utf8.lexicographicallyPrecedes($1.program.utf8) }
    }
}
