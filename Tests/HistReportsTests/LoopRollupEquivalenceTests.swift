import Foundation
import GRDB
import HistModel
import HistStore
import HistTestSupport
import Testing
@testable import HistReports

// Serialized with the other randomized suites (RandomizedHistories).
extension RandomizedHistories {
/// The rollups of migrations/0011_loop_rollups.sql are exact: on randomized histories written by the real
/// writer (random transaction sizes, ends out of time order, batches hours behind the newest crashes, lost starts, ends recorded twice, pools,
/// spawn failures, operator-caused ends, crash bursts, restarts recorded twice) with retention pruning in between, `loop_hours`
/// and `program_hours`, and their days `loop_days` and `program_days` (0015), equal the raw rows grouped the same way, and
/// `histctl loops` read through the rollups equals the same report computed from raw rows only (and from the hour rollups
/// only), for random ranges and program filters.
@Suite struct LoopRollupEquivalenceTests {
    static let hour: Int64 = 3_600_000
    static let day: Int64 = 86_400_000
    static let t0: Int64 = 1_764_547_200_000 // 2025-12-01T00:00:00Z

    /// The crashes of loops.sql with their history-wide loop membership by the Swift definition
    /// (CrashLoopMembers, not the SQL of the rollup), grouped as loop_hours is.
    static func expectedLoopHours(_ db: Database) throws -> [[Int64?]] {
        let rows = try Row.fetchAll(db, sql: """
            SELECT i.program_id, i.ended_at, coalesce(i.worker_index, -1), i.uptime_ms FROM instances i
            WHERE i.class IN ('crash', 'limit') AND i.ended_at IS NOT NULL
              AND NOT EXISTS (SELECT 1 FROM operator_effects f WHERE f.instance_id = i.id AND f.effect = 'ended')
            UNION ALL
            SELECT e.program_id, e.ts, coalesce(json_extract(e.detail, '$.worker_index'), -1), NULL FROM events e
            WHERE e.kind = 9 AND e.program_id IS NOT NULL
            """)
        var byProgram: [Int64: [(ts: Int64, w: Int64, up: Int64?)]] = [:]
        for r in rows { byProgram[r[0], default: []].append((r[1], r[2], r[3])) }
        var groups: [[Int64]: (n: Int64, first: Int64, last: Int64, up: Int64?)] = [:]
        for (p, crashes) in byProgram {
            let members = CrashLoopMembers.members(ts: crashes.map(\.ts), window: CrashLoopMembers.rollupWindowMs,
                                                   minCrashes: CrashLoopMembers.rollupMinCrashes)
            for i in members {
                let c = crashes[i]
                let key = [c.ts - c.ts % hour, p, c.w]
                var g = groups[key] ?? (0, .max, .min, nil)
                g.n += 1
                g.first = min(g.first, c.ts)
                g.last = max(g.last, c.ts)
                if let u = c.up { g.up = max(g.up ?? u, u) }
                groups[key] = g
            }
        }
        return groups.keys.sorted { $0.lexicographicallyPrecedes($1) }.map { k in
            let g = groups[k]!
            return [k[0], k[1], k[2], g.n, g.first, g.last, g.up]
        }
    }

    static func actualLoopHours(_ db: Database) throws -> [[Int64?]] {
        try Row.fetchAll(db, sql: """
            SELECT hour, program_id, worker, members, first_ms, last_ms, longest_uptime_ms FROM loop_hours ORDER BY 1, 2, 3
            """).map { r in (0..<7).map { r[$0] } }
    }

    /// loop_days (migrations/0015_day_rollups.sql): the expected hour rows above summed per day in Swift.
    static func expectedLoopDays(_ db: Database) throws -> [[Int64?]] {
        var groups: [[Int64]: (n: Int64, first: Int64, last: Int64, up: Int64?)] = [:]
        for h in try expectedLoopHours(db) {
            let key = [h[0]! - h[0]! % day, h[1]!, h[2]!]
            var g = groups[key] ?? (0, .max, .min, nil)
            g.n += h[3]!
            g.first = min(g.first, h[4]!)
            g.last = max(g.last, h[5]!)
            if let u = h[6] { g.up = max(g.up ?? u, u) }
            groups[key] = g
        }
        return groups.keys.sorted { $0.lexicographicallyPrecedes($1) }.map { k in
            let g = groups[k]!
            return [k[0], k[1], k[2], g.n, g.first, g.last, g.up]
        }
    }

    static func actualLoopDays(_ db: Database) throws -> [[Int64?]] {
        try Row.fetchAll(db, sql: """
            SELECT day, program_id, worker, members, first_ms, last_ms, longest_uptime_ms FROM loop_days ORDER BY 1, 2, 3
            """).map { r in (0..<7).map { r[$0] } }
    }

    /// program_days straight from the events: the longest restart delay per program and day of its hour.
    static func expectedProgramDays(_ db: Database) throws -> [[Int64?]] {
        try Row.fetchAll(db, sql: """
            SELECT program_id, (ts - ts % 3600000) - (ts - ts % 3600000) % 86400000, MAX(value)
            FROM events WHERE kind = 4 AND program_id IS NOT NULL AND value IS NOT NULL GROUP BY 1, 2 ORDER BY 1, 2
            """).map { r in (0..<3).map { r[$0] } }
    }

    static func actualProgramDays(_ db: Database) throws -> [[Int64?]] {
        try Row.fetchAll(db, sql: "SELECT program_id, day, max_restart_delay_ms FROM program_days ORDER BY 1, 2")
            .map { r in (0..<3).map { r[$0] } }
    }

    static func expectedProgramHours(_ db: Database) throws -> [[Int64?]] {
        try Row.fetchAll(db, sql: """
            SELECT program_id, ts - ts % 3600000, SUM(kind = 1), SUM(kind = 4), SUM(kind = 5), MAX(CASE WHEN kind = 4 THEN value END)
            FROM events WHERE kind IN (1, 4, 5) AND program_id IS NOT NULL GROUP BY 1, 2 ORDER BY 1, 2
            """).map { r in (0..<6).map { r[$0] } }
    }

    static func actualProgramHours(_ db: Database) throws -> [[Int64?]] {
        try Row.fetchAll(db, sql: """
            SELECT program_id, hour, starts, restarts, gave_ups, max_restart_delay_ms FROM program_hours ORDER BY 1, 2
            """).map { r in (0..<6).map { r[$0] } }
    }

    /// A random history through the writer: bursts (crash loops) and quiet spells, pools, spawn
    /// failures, restarts and give-ups, operator-caused ends, ends out of time order.
    static func record(_ writer: HistoryWriter, _ rng: inout SeededGenerator, from: Int64, cycles: Int, span: Int64,
                       nextID: inout InstanceID, seq: inout UInt64) {
        let programs: [(name: String, workers: Int?)] = [("web", nil), ("batch", nil), ("jobs", 3), ("cron", nil)]
        var t = from
        var open: [(InstanceInfo, Int64)] = []
        var burst = 0
        for _ in 0..<cycles {
            // Bursts: many crashes seconds apart (loops); otherwise minutes apart (mostly no loop).
            if burst == 0, Int.random(in: 0..<20, using: &rng) == 0 { burst = Int.random(in: 3...30, using: &rng) }
            let step = burst > 0 ? Int64.random(in: 0...20_000, using: &rng) : Int64.random(in: 0...(2 * span / Int64(cycles)), using: &rng)
            if burst > 0 { burst -= 1 }
            t += step
            let p = programs[Int.random(in: 0..<programs.count, using: &rng)]
            let worker = p.workers.map { Int.random(in: 0..<$0, using: &rng) }
            if Int.random(in: 0..<12, using: &rng) == 0 {
                writer.record(HistEvent(time: Timestamp(milliseconds: t), program: p.name,
                                        payload: .spawnFailed(errno: 2, step: "exec", reason: "No such file", workerIndex: worker)))
                writer.record(HistEvent(time: Timestamp(milliseconds: t), program: p.name,
                                        payload: .restartScheduled(instance: nil, delay: .milliseconds(Int64.random(in: 100...60_000, using: &rng)),
                                                                   attempt: 1, workerIndex: worker)))
                continue
            }
            nextID += 1
            let info = InstanceInfo(id: nextID, program: p.name, workerIndex: worker,
                                    identity: ProcessIdentity(pid: Int32.random(in: 100...30_000, using: &rng), startTicks: UInt64(t / 10)),
                                    startedAt: Timestamp(milliseconds: t))
            if Int.random(in: 0..<10, using: &rng) != 0 {
                writer.record(HistEvent(time: Timestamp(milliseconds: t), program: p.name, payload: .started(info)))
            }
            open.append((info, t))
            while open.count > Int.random(in: 0...3, using: &rng) {
                let (info, started) = open.remove(at: Int.random(in: 0..<open.count, using: &rng))
                let endAt = max(started, t - Int64.random(in: 0...60_000, using: &rng))
                let roll = Int.random(in: 0..<10, using: &rng)
                let cls: ExitClassification = roll < 5 ? .crash : roll < 7 ? .limit : roll < 9 ? .clean : .stopped
                let status: HistModel.ExitStatus = cls == .clean ? .exited(code: 0)
                    : cls == .limit ? .signaled(signal: 15, coreDumped: false) : .exited(code: Int32.random(in: 1...3, using: &rng))
                let end = InstanceEnd(instance: info, endedAt: Timestamp(milliseconds: endAt), status: status, classification: cls,
                                      uptime: .milliseconds(endAt - started), stderrTail: cls == .crash ? "boom" : "")
                // Now and then the end was caused by an operator (a restart through histctl): not a crash.
                let byOperator: UInt64? = Int.random(in: 0..<15, using: &rng) == 0 ? { seq += 1; return seq }() : nil
                writer.record(HistEvent(time: Timestamp(milliseconds: endAt), program: info.program, payload: .ended(end),
                                        operatorAction: byOperator))
                if Int.random(in: 0..<25, using: &rng) == 0 {
                    writer.record(HistEvent(time: Timestamp(milliseconds: endAt), program: info.program, payload: .ended(end)))
                }
                if cls != .clean, Int.random(in: 0..<8, using: &rng) == 0 {
                    writer.record(HistEvent(time: Timestamp(milliseconds: endAt), program: info.program,
                                            payload: .gaveUp(instance: info, restarts: 5, workerIndex: worker)))
                } else {
                    // Mostly at the end's time, as the engine writes it; now and then later.
                    let at = endAt + (Int.random(in: 0..<4, using: &rng) == 0 ? Int64.random(in: 0...20_000, using: &rng) : 0)
                    writer.record(HistEvent(time: Timestamp(milliseconds: at), program: info.program,
                                            payload: .restartScheduled(instance: info, delay: .milliseconds(Int64.random(in: 100...60_000, using: &rng)),
                                                                       attempt: 1, workerIndex: info.workerIndex)))
                    // Sometimes a second one for the same instance (a spawn failure retried): later, out of
                    // the 60 s window, before the end, or earlier than the first (a clock stepped back).
                    if Int.random(in: 0..<6, using: &rng) == 0 {
                        writer.record(HistEvent(time: Timestamp(milliseconds: endAt + Int64.random(in: -5_000...70_000, using: &rng)),
                                                program: info.program,
                                                payload: .restartScheduled(instance: info, delay: .milliseconds(Int64.random(in: 100...60_000, using: &rng)),
                                                                           attempt: 2, workerIndex: info.workerIndex)))
                    }
                }
            }
        }
    }

    /// How often the compared ranges read each rollup (`compareLoops`).
    struct RollupUse {
        var hours = 0
        /// Whole days from loop_days, with edge hours from loop_hours on at least one side.
        var daysWithEdges = 0
        /// A loop's restart delays read partly from program_days.
        var delayDays = 0
    }

    /// `histctl loops` through the rollups (whole days from loop_days and program_days, the hours around
    /// them from loop_hours and program_hours) equals the report with every crash read raw (the rollup
    /// hours turned off) and the report through the hour rollups only (the days turned off), for random
    /// ranges, filters and both the rollup's and other windows.
    static func compareLoops(path: String, _ rng: inout SeededGenerator, from: Int64, until: Int64) throws -> RollupUse {
        let db = try ReportDatabase(path: path)
        let filters: [[String]] = [[], ["web"], ["jobs"], ["batch", "cron"], ["jobs", "web"]]
        var use = RollupUse()
        for k in 0..<30 {
            var a = Int64.random(in: from...until, using: &rng), b = Int64.random(in: from...until, using: &rng)
            if k % 3 == 0 { (a, b) = (from, until) }
            if k % 4 == 1 { a -= a % hour }
            if k % 5 == 2 { b = a + Int64.random(in: 0...(4 * hour), using: &rng) }
            // Longer than a day, starting and ending inside a day: whole days plus edge hours on both sides.
            if k % 8 == 7 {
                a = from + Int64.random(in: 0...(14 * hour), using: &rng)
                b = min(until, a + Int64.random(in: (25 * hour)...(50 * hour), using: &rng))
            }
            let scope = ReportScope(since: Timestamp(milliseconds: min(a, b)), until: Timestamp(milliseconds: max(a, b)),
                                    programs: filters[k % filters.count], now: Timestamp(milliseconds: until))
            let (window, minCrashes): (Duration, Int) = k % 7 == 6 ? (.seconds(300), 4) : (.seconds(600), 3)
            let viaRollup = try Reports.loops(db, scope, window: window, minCrashes: minCrashes)
            var args = scope.programArguments
            args["window_ms"] = window.milliseconds
            args["min_crashes"] = minCrashes
            args["loop_from"] = scope.until.milliseconds
            args["loop_until"] = scope.until.milliseconds
            args["day_from"] = scope.until.milliseconds
            args["day_until"] = scope.until.milliseconds
            args["days"] = 0
            let raw = try db.run(query: "loops", arguments: args, columns: Reports.loopColumns)
            let hours = Reports.loopRollupHours(db, scope, window: window, minCrashes: minCrashes)
            let days = Reports.loopRollupDays(from: hours.0, until: hours.1, hasDays: true)
            args["loop_from"] = hours.0
            args["loop_until"] = hours.1
            args["day_from"] = hours.1
            args["day_until"] = hours.1
            let hoursOnly = try db.run(query: "loops", arguments: args, columns: Reports.loopColumns)
            if hours.0 < hours.1 { use.hours += 1 }
            if days.0 < days.1, hours.0 < days.0 || days.1 < hours.1 { use.daysWithEdges += 1 }
            let label = "loops \(scope.since.milliseconds)..<\(scope.until.milliseconds) \(scope.programs) rollup hours \(hours) days \(days)"
            #expect(viaRollup.rows == raw.rows, "\(label): rollups against raw rows")
            #expect(viaRollup.rows == hoursOnly.rows, "\(label): day rollups against the hour rollups")
            try checkDelaysAndGiveUps(db, viaRollup, until: scope.until.milliseconds)
            use.delayDays += viaRollup.rows.count { row in
                guard case .time(let first) = row[2], case .time(let last) = row[3] else { return false }
                let h1 = first.milliseconds - first.milliseconds % hour + hour
                let h2 = (last.milliseconds + 5000) - (last.milliseconds + 5000) % hour
                return (h1 + day - 1) / day < h2 / day
            }
        }
        return use
    }

    /// Both answers above share how loops.sql finds each loop's longest restart delay (program_hours plus
    /// the edge hours' events, only where they can raise it) and whether histd gave up: here each row's
    /// values against the events read directly, with no rollup.
    static func checkDelaysAndGiveUps(_ db: ReportDatabase, _ result: ReportResult, until: Int64) throws {
        for row in result.rows {
            guard case .text(let program) = row[0], case .time(let first) = row[2], case .time(let last) = row[3] else {
                Issue.record("unexpected loops row \(row)")
                continue
            }
            let direct = try db.run(sql: """
                SELECT (SELECT MAX(e.value) FROM events e WHERE e.kind = 4 AND e.program_id = p.id
                          AND e.ts >= :first AND e.ts <= :last + 5000) / 1000.0,
                       EXISTS (SELECT 1 FROM events e WHERE e.kind = 5 AND e.program_id = p.id AND e.ts >= :first AND e.ts < :until)
                FROM programs p WHERE p.name = :name
                """, arguments: ["first": first.milliseconds, "last": last.milliseconds, "until": until, "name": program],
                columns: [ReportColumn("max_restart_delay_s", .seconds), ReportColumn("gave_up", .bool)], label: "direct delays")
            #expect(direct.rows.first == [row[5], row[6]], "\(program): restart delay and gave_up \(row) against the events")
        }
    }


    /// A new history file with one run begun at `t0`, ready for a writer.
    static func openStore(_ path: String) throws -> HistoryStore {
        let store = try HistoryStore.open(path: path)
        do {
            _ = try store.beginRun(host: "test", pid: 1, version: "0.1.0", configPath: nil, configHash: nil, bootID: nil,
                                   programs: [], pools: [], at: Timestamp(milliseconds: t0))
        } catch {
            store.close()
            throw error
        }
        return store
    }
    @Test(arguments: [1, 2, 3, 4, 5] as [UInt64])
    func loopRollupsMatchRawRows(seed: UInt64) throws {
        var rng = SeededGenerator(seed: seed)
        let dir = SampleHistory.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/loops.db"
        let store = try Self.openStore(path)
        defer { store.close() }
        let writer = store.startWriter(options: .init(batchSize: Int.random(in: 1...40, using: &rng)))
        // Three days: ranges with whole days (the day rollups) and edge hours on both sides.
        let span: Int64 = 3 * 24 * Self.hour
        var nextID: InstanceID = 0
        var seq: UInt64 = 0
        var use = RollupUse()
        for slice in 0..<3 {
            let from = Self.t0 + Int64(slice) * span / 3
            // Bursts leave time standing still for about half the cycles, so a slice's history covers about
            // half its span; even seeds give it twice the span, so that it reaches into the next slice's and
            // that slice's first batches come hours behind the newest crashes (a clock stepped back).
            Self.record(writer, &rng, from: from, cycles: 750, span: (seed % 2 == 0 ? 2 : 1) * span / 3, nextID: &nextID, seq: &seq)
            #expect(writer.flush(timeout: .seconds(30)))
            // Before the prune: a random cutoff may remove every loop, which is a fine case to compare
            // but says nothing about whether the generator makes loops at all.
            try store.withWriteConnection { db in
                let before = try Self.expectedLoopHours(db)
                #expect(!before.isEmpty || slice == 0, "seed \(seed): the history has loops")
            }
            // Seeds 1-3 prune only the first hours (3, 6, 9 h at most), so that loops span whole days and
            // retention cuts into the first day; seeds 4-5 anywhere into the history written so far.
            let reach = seed <= 3 ? Int64(slice + 1) * 3 * Self.hour : Int64(slice + 1) * span / 3
            let cutoff = Self.t0 + Int64.random(in: 0...reach, using: &rng)
            let retention = Duration.milliseconds(Self.t0 + 10 * span - cutoff)
            try store.prune(now: Timestamp(milliseconds: Self.t0 + 10 * span), retention: retention,
                            snapshotRetention: retention, batchSize: Int.random(in: 1...200, using: &rng))
            try store.withWriteConnection { db in
                let expected = try Self.expectedLoopHours(db)
                #expect(try Self.actualLoopHours(db) == expected, "seed \(seed), slice \(slice): loop_hours differs from the raw rows")
                #expect(try Self.actualProgramHours(db) == (try Self.expectedProgramHours(db)),
                        "seed \(seed), slice \(slice): program_hours differs from events")
                #expect(try Self.actualLoopDays(db) == (try Self.expectedLoopDays(db)),
                        "seed \(seed), slice \(slice): loop_days differs from the raw rows")
                #expect(try Self.actualProgramDays(db) == (try Self.expectedProgramDays(db)),
                        "seed \(seed), slice \(slice): program_days differs from events")
            }
            let u = try Self.compareLoops(path: path, &rng, from: Self.t0 - Self.hour, until: Self.t0 + span + Self.hour)
            use.hours += u.hours
            use.daysWithEdges += u.daysWithEdges
            use.delayDays += u.delayDays
        }
        #expect(use.hours > 0, "some compared ranges read the rollup")
        #expect(use.daysWithEdges > 0, "some compared ranges read whole days and edge hours")
        #expect(use.delayDays > 0 || seed > 3, "some loops read restart delays from program_days")
    }

    /// The SQL that migration 0011, retention and fixtures use computes the same rows as the writer's
    /// Swift path (checked above) — here: the migration holds the rebuild statements, and rebuilding
    /// everything from the raw rows on a writer-made history changes nothing.
    @Test func migrationAndRebuildAgreeWithTheWriter() throws {
        let migration = try #require(BundledSQL.migrations.first { $0.name.hasPrefix("0011_") }?.sql)
        func squash(_ s: String) -> String { s.split(whereSeparator: \.isWhitespace).joined(separator: " ") }
        let loops = HistoryRollups.loopRebuildSQL
            .replacingOccurrences(of: ":from", with: "-4611686018427387904")
            .replacingOccurrences(of: ":until", with: "4611686018427387904")
        let hours = HistoryRollups.programHoursRebuildSQL
            .replacingOccurrences(of: ":from", with: "-4611686018427387904")
            .replacingOccurrences(of: ":until", with: "4611686018427387904")
        #expect(squash(migration).contains(squash(loops)))
        #expect(squash(migration).contains(squash(hours)))
        let dayMigration = try #require(BundledSQL.migrations.first { $0.name.hasPrefix("0015_") }?.sql)
        for sql in [HistoryRollups.loopDaysRebuildSQL, HistoryRollups.programDaysRebuildSQL] {
            let whole = sql.replacingOccurrences(of: ":from", with: "-4611686018427387904")
                .replacingOccurrences(of: ":until", with: "4611686018427387904")
            #expect(squash(dayMigration).contains(squash(whole)))
        }

        var rng = SeededGenerator(seed: 42)
        let dir = SampleHistory.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try Self.openStore(dir + "/h.db")
        defer { store.close() }
        let writer = store.startWriter(options: .init(batchSize: 7))
        var nextID: InstanceID = 0
        var seq: UInt64 = 0
        Self.record(writer, &rng, from: Self.t0, cycles: 600, span: 12 * Self.hour, nextID: &nextID, seq: &seq)
        #expect(writer.flush(timeout: .seconds(30)))
        try store.withWriteConnection { db in
            let before = (try Self.actualLoopHours(db), try Self.actualProgramHours(db))
            let days = (try Self.actualLoopDays(db), try Self.actualProgramDays(db))
            #expect(!before.0.isEmpty && !before.1.isEmpty && !days.0.isEmpty && !days.1.isEmpty)
            try db.inTransaction {
                try HistoryRollups.rebuildAll(db)
                return .commit
            }
            #expect(try Self.actualLoopHours(db) == before.0)
            #expect(try Self.actualProgramHours(db) == before.1)
            #expect(try Self.actualLoopDays(db) == days.0)
            #expect(try Self.actualProgramDays(db) == days.1)
            // Migration 0015's statements on the hour rows give the writer's day rows too.
            try db.inTransaction {
                try db.execute(sql: "DELETE FROM loop_days; DELETE FROM program_days")
                try db.execute(sql: "--" + dayMigration.components(separatedBy: "-- The rows for the existing history").last!)
                return .commit
            }
            #expect(try Self.actualLoopDays(db) == days.0)
            #expect(try Self.actualProgramDays(db) == days.1)
        }
    }

    /// Under a backlog (more than `maxBatchSize` items waiting) the writer switches its connection to a
    /// larger page cache and checkpoint interval, and back when the queue is empty (WriterLoop+Cache.swift).
    /// With `maxBatchSize` 8 the producer's burst is a backlog from the first take on (checked by hand with
    /// a print: the switch is made): the rows and rollups written that way equal those written with the
    /// defaults, and the rollups equal the raw rows.
    @Test func backlogCacheChangesNoRow() throws {
        func history(maxBatchSize: Int) throws -> [String: [[DatabaseValue]]] {
            var rng = SeededGenerator(seed: 7)
            let dir = SampleHistory.tempDir()
            defer { try? FileManager.default.removeItem(atPath: dir) }
            let store = try Self.openStore(dir + "/h.db")
            defer { store.close() }
            let writer = store.startWriter(options: .init(batchSize: 4, maxBatchSize: maxBatchSize))
            var nextID: InstanceID = 0
            var seq: UInt64 = 0
            Self.record(writer, &rng, from: Self.t0, cycles: 1500, span: 12 * Self.hour, nextID: &nextID, seq: &seq)
            #expect(writer.flush(timeout: .seconds(60)))
            #expect(writer.stats.dropped == 0)
            return try store.withWriteConnection { db in
                #expect(try Self.actualLoopHours(db) == (try Self.expectedLoopHours(db)), "maxBatchSize \(maxBatchSize)")
                #expect(try Self.actualProgramHours(db) == (try Self.expectedProgramHours(db)), "maxBatchSize \(maxBatchSize)")
                #expect(try Self.actualLoopDays(db) == (try Self.expectedLoopDays(db)), "maxBatchSize \(maxBatchSize)")
                #expect(try Self.actualProgramDays(db) == (try Self.expectedProgramDays(db)), "maxBatchSize \(maxBatchSize)")
                var out: [String: [[DatabaseValue]]] = [:]
                for table in ["instances", "events", "loop_hours", "program_hours", "loop_days", "program_days", "crash_hours", "operator_effects"] {
                    out[table] = try Row.fetchAll(db, sql: "SELECT * FROM \(table) ORDER BY \(table == "program_days" ? "1, 2" : "1, 2, 3, 4")").map { Array($0.databaseValues) }
                }
                return out
            }
        }
        let defaults = try history(maxBatchSize: HistoryWriter.Options().maxBatchSize)
        let backlog = try history(maxBatchSize: 8)
        #expect(!(defaults["loop_hours"] ?? []).isEmpty, "the history has loops")
        for (table, rows) in defaults {
            #expect(backlog[table] == rows, "\(table): rows differ between the default and the backlog cache")
        }
    }
}
}
