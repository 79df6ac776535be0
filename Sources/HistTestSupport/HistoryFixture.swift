import Foundation
import GRDB
import HistModel
import HistStore

/// Generates a synthetic history database: supervisor runs, programs and pools that start, crash,
/// get limit-killed and restart, with snapshots, scans, zombie parents, orphans and recording gaps.
/// Deterministic for a given `Size` and `end`. Tests use a small size; the benchmark uses `.full`
/// (30 days x 200 programs, about 10 M events).
public enum HistoryFixture {
    /// Why a fixture could not be generated.
    public struct FixtureError: Error, CustomStringConvertible {
        public var message: String
        public var description: String { message }
    }

    /// How much history to generate.
    public struct Size: Hashable, Sendable {
        public var programs: Int
        /// Every `poolEvery`-th program is a pool with `poolWorkers` workers (0 = no pools).
        public var poolEvery: Int
        public var poolWorkers: Int
        public var days: Double
        /// Start/end cycles per program (per pool worker) per day; each cycle writes about 3 events.
        public var cyclesPerDay: Int
        public var snapshotEvery: Duration
        /// Snapshots cover only the last this-many days (histd prunes snapshots sooner than events).
        public var snapshotDays: Double
        public var scanEvery: Duration
        public var seed: UInt64
        /// Use WAL journal mode, like histd's own database.
        public var wal: Bool

        public init(programs: Int = 200, poolEvery: Int = 20, poolWorkers: Int = 3, days: Double = 30, cyclesPerDay: Int = 540,
                    snapshotEvery: Duration = .seconds(10), snapshotDays: Double = 7, scanEvery: Duration = .seconds(60),
                    seed: UInt64 = 1, wal: Bool = true) {
            self.programs = programs
            self.poolEvery = poolEvery
            self.poolWorkers = poolWorkers
            self.days = days
            self.cyclesPerDay = cyclesPerDay
            self.snapshotEvery = snapshotEvery
            self.snapshotDays = snapshotDays
            self.scanEvery = scanEvery
            self.seed = seed
            self.wal = wal
        }

        /// A file-name-safe text that differs whenever any field does (with `generatorVersion`, the key of
        /// a cached fixture). Not `hashValue`: that is seeded per process.
        public var key: String {
            "p\(programs)-pool\(poolEvery)x\(poolWorkers)-d\(days)-c\(cyclesPerDay)-snap\(snapshotEvery.milliseconds)ms"
                + "x\(snapshotDays)d-scan\(scanEvery.milliseconds)ms-s\(seed)-\(wal ? "wal" : "delete")"
        }

        /// The benchmark size: 30 days x 200 programs, about 10 M events, snapshots every 10 s for 7 days.
        public static let full = Size()
        /// A few seconds to generate in a debug build.
        public static let small = Size(programs: 12, poolEvery: 6, poolWorkers: 2, days: 3, cyclesPerDay: 40,
                                       snapshotEvery: .seconds(60), snapshotDays: 1, scanEvery: .seconds(300), wal: false)
    }

    /// What was written.
    public struct Summary: Hashable, Sendable {
        public var events = 0
        public var instances = 0
        public var sweeps = 0
        public var snapshots = 0
        public var scans = 0
        public var start: Timestamp = .init(milliseconds: 0)
        public var end: Timestamp = .init(milliseconds: 0)
    }

    /// Creates an empty history at `path` through the store (`HistoryStore.open`: file mode 0640, WAL,
    /// the embedded migrations recorded in `grdb_migrations`), so that fixtures and histd's databases
    /// come from one migration path.
    public static func createSchema(at path: String) throws {
        let store = try HistoryStore.open(path: path)
        store.close()
    }

    /// Writes a new database at `path` (which must not exist) whose history ends at `end`.
    /// Rows follow the real writer's conventions (docs/SCHEMA.md, HistStore's WriteSession): one instance
    /// row per process with its exit class, `crash`/`exit` events valued with the uptime, `restart_scheduled`
    /// pointing at the instance that ended with `{"attempt":N[,"worker_index":W]}`, limit kills as
    /// limit_breach + stop_requested + exit (class `limit`), an unclean run closed by the next start
    /// (stopped_at = its last event, a `supervisor_stop` `{"reason":"unclean",...}` and `leftover` events),
    /// and `recording_gap` events with `{"from_ms","to_ms","reason","dropped_by_kind","recorded_ms"}`.
    @discardableResult
    /// `progress` gets one line per phase (rows, indexes, rollups) with its wall time.
    public static func generate(at path: String, size: Size = .small, end: Timestamp = .now(),
                                progress: (String) -> Void = { _ in }) throws -> Summary {
        guard !FileManager.default.fileExists(atPath: path) else {
            throw FixtureError(message: "HistoryFixture: \(path) already exists")
        }
        try createSchema(at: path)
        let queue = try DatabaseQueue(path: path)
        defer { try? queue.close() }
        var summary = Summary()
        try queue.writeWithoutTransaction { db in
            // Bulk load (a fixture is thrown away when interrupted, so nothing needs to survive a crash):
            // no journal, a page cache that holds the whole working set (the default 2 MiB made every
            // index insert of the 30-day fixture a disk read), sorts in memory.
            _ = try String.fetchOne(db, sql: "PRAGMA journal_mode = OFF")
            try db.execute(sql: "PRAGMA synchronous = OFF")
            try db.execute(sql: "PRAGMA cache_size = -1048576")
            try db.execute(sql: "PRAGMA temp_store = MEMORY")
            try db.inTransaction {
                // The secondary indexes of the bulk tables are dropped and re-created from their own
                // stored SQL (so they are exactly the migrations' indexes): one sort per index instead of
                // ~11 M inserts at random places (events arrive per program, not in time order).
                let indexes = try Row.fetchAll(db, sql: """
                    SELECT name, sql FROM sqlite_master
                    WHERE type = 'index' AND sql IS NOT NULL AND tbl_name IN ('events', 'instances', 'sweeps', 'scans')
                    ORDER BY name
                    """).map { (name: $0["name"] as String, sql: $0["sql"] as String) }
                for index in indexes { try db.execute(sql: "DROP INDEX \(index.name)") }
                let clock = ContinuousClock()
                var t0 = clock.now
                func phase(_ name: String) {
                    progress("\(name) in \(clock.now - t0)")
                    t0 = clock.now
                }
                var gen = Generator(db: db, size: size, end: end)
                try gen.run()
                phase("rows (\(gen.summary.events) events, \(gen.summary.instances) instances, \(gen.summary.snapshots) snapshots)")
                for index in indexes { try db.execute(sql: index.sql) }
                phase("indexes")
                // The rows were written without the writer: derive the rollups the way migration 0007
                // does for an existing history (the same statement).
                try HistoryRollups.rebuildAll(db)
                phase("rollups")
                summary = gen.summary
                return .commit
            }
            _ = try String.fetchOne(db, sql: size.wal ? "PRAGMA journal_mode = WAL" : "PRAGMA journal_mode = DELETE")
        }
        return summary
    }

    /// Changes whenever `generate` writes different rows for the same `Size` and `end`: part of the key
    /// under which a generated fixture may be cached and reused (histbench's SCRATCH/full-*.db).
    public static let generatorVersion = 2

    /// A small deterministic random source (SplitMix64).
    struct Random {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        mutating func unit() -> Double { Double(next() >> 11) / Double(1 << 53) }
        mutating func int(_ range: ClosedRange<Int64>) -> Int64 { range.lowerBound + Int64(next() % UInt64(range.upperBound - range.lowerBound + 1)) }
    }

    struct Generator {
        let db: Database
        let size: Size
        let end: Int64
        var random: Random
        var summary = Summary()
        var eventStatement: FixtureInsert?
        /// Per stream (program or pool worker): (instance id, start ms, end ms) in time order.
        var streams: [(programId: Int64, instances: [(id: Int64, start: Int64, end: Int64)])] = []

        init(db: Database, size: Size, end: Timestamp) {
            self.db = db
            self.size = size
            self.end = end.milliseconds
            self.random = Random(state: size.seed)
        }

        /// A span with nothing recorded: histd had died (the unclean run) until the next run started.
        var dead: (from: Int64, until: Int64, run: Int64)?
        /// The newest event time per run, to close the unclean run as the store's `beginRun` does.
        var lastEvent: [Int64: Int64] = [:]
        /// Instances of the dead run still open when it died: (instance row, pid, start ticks).
        var leftovers: [(id: Int64, pid: Int64, ticks: Int64)] = []

        mutating func run() throws {
            let dayMs: Int64 = 86_400_000
            let start = end - Int64(size.days * Double(dayMs))
            summary.start = Timestamp(milliseconds: start)
            summary.end = Timestamp(milliseconds: end)

            // Runs: one per week; the one before last died halfway (unclean); the last is still open.
            let runCount = max(1, Int((size.days / 7).rounded(.up)))
            var runs: [(id: Int64, start: Int64, end: Int64)] = []
            for r in 0..<runCount {
                let rs = start + Int64(r) * (end - start) / Int64(runCount)
                let re = r == runCount - 1 ? end : start + Int64(r + 1) * (end - start) / Int64(runCount) - 1000
                let unclean = runCount > 1 && r == runCount - 2
                let id = Int64(r + 1)
                let last = r == runCount - 1
                try db.execute(sql: """
                    INSERT INTO runs (id, host, pid, version, config_path, config_hash, boot_id, started_at, stopped_at, stop_reason)
                    VALUES (?, 'fixture-host', ?, '0.1.0', '/etc/histd.toml', 'cafe', 'boot', ?, ?, ?)
                    """, arguments: [id, 1000 + r, rs, last || unclean ? nil : re, last || unclean ? nil : "clean"])
                try event(ts: rs, kind: 13, run: id, value: Int64(1000 + r), detail: #"{"version":"0.1.0","host":"fixture-host"}"#)
                if !last && !unclean { try event(ts: re, kind: 14, run: id, detail: #"{"reason":"clean"}"#) }
                if unclean { dead = (rs + (re - rs) / 2, re + 1000, id) }
                runs.append((id, rs, re))
            }
            func runID(at ts: Int64) -> Int64 { runs.last(where: { $0.start <= ts })?.id ?? 1 }

            let insertInstance = try FixtureInsert(db, sql: """
                INSERT INTO instances (id, run_id, program_id, worker_index, pid, start_ticks, started_at, ended_at,
                                       exit_code, signal, core_dumped, class, uptime_ms, stderr_tail)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """)
            var instanceID: Int64 = 0
            let cycleMs = dayMs / Int64(max(1, size.cyclesPerDay))
            for p in 0..<size.programs {
                let isPool = size.poolEvery > 0 && size.poolWorkers > 0 && p % size.poolEvery == size.poolEvery - 1
                let name = String(format: isPool ? "pool-%03d" : "prog-%03d", p)
                let programId = Int64(p + 1)
                try db.execute(sql: "INSERT INTO programs (id, name, kind) VALUES (?, ?, ?)", arguments: [programId, name, isPool ? "pool" : "program"])
                // A third of the programs crash a lot; the rest mostly run.
                let crashy = p % 3 == 0
                for worker in 0..<(isPool ? size.poolWorkers : 1) {
                    let workerJSON = isPool ? ",\"worker_index\":\(worker)" : ""
                    var t = start + random.int(0...cycleMs)
                    var list: [(id: Int64, start: Int64, end: Int64)] = []
                    var attempt = 0
                    while t < end {
                        // Nothing starts while histd is dead; the next run starts everything again.
                        if let dead, t >= dead.from, t < dead.until { t = dead.until + random.int(0...1000) }
                        guard t < end else { break }
                        let began = t
                        instanceID += 1
                        let uptime = max(50, Int64(Double(cycleMs) * (crashy ? 0.3 + random.unit() * 0.6 : 0.8 + random.unit() * 0.4)))
                        var stop = t + uptime
                        // A process still running when histd died is never seen ending in that run.
                        let orphaned = dead.map { t < $0.from && stop >= $0.from } ?? false
                        let open = stop >= end || orphaned
                        let roll = random.unit()
                        let cls = open ? nil : (roll < (crashy ? 0.8 : 0.2) ? "crash" : (roll < (crashy ? 0.85 : 0.25) ? "limit" : "clean"))
                        let signal: Int64? = cls == "crash" && roll < 0.3 ? 11 : (cls == "limit" ? 15 : nil)
                        let code: Int64? = cls == nil || signal != nil ? nil : (cls == "crash" ? 1 + Int64(p % 3) : 0)
                        let pid = 1000 + random.int(0...30000)
                        let run = runID(at: t)
                        let row: [Int64?] = [instanceID, run, programId, isPool ? Int64(worker) : nil, pid, t / 10, t, open ? nil : stop,
                                             code, signal, signal == 11 ? 1 : 0]
                        for (i, v) in row.enumerated() { insertInstance.bind(Int32(i + 1), v) }
                        insertInstance.bind(12, cls)
                        insertInstance.bind(13, open ? nil : uptime)
                        insertInstance.bind(14, cls == "crash" ? "panic: \(name) failed\nexit" : nil)
                        try insertInstance.run()
                        summary.instances += 1
                        try event(ts: t, kind: 1, run: run, program: programId, instance: instanceID)
                        if let cls {
                            if cls == "limit" {
                                try event(ts: stop - min(500, uptime / 2), kind: 8, run: run, program: programId, instance: instanceID,
                                          value: 600 << 20, detail: #"{"limit":"max_memory_mb","threshold":536870912,"action":"stop"}"#)
                                try event(ts: stop - min(499, uptime / 2), kind: 6, run: run, program: programId, instance: instanceID,
                                          value: 15, detail: #"{"reason":"limit"}"#)
                            }
                            try event(ts: stop, kind: cls == "crash" ? 3 : 2, run: run, program: programId, instance: instanceID, value: uptime)
                            attempt = cls == "clean" ? 1 : attempt + 1
                            let delay = min(60_000, Int64(100) << Int64(min(attempt - 1, 10)))
                            try event(ts: stop, kind: 4, run: run, program: programId, instance: instanceID, value: delay,
                                      detail: #"{"attempt":\#(attempt)\#(workerJSON)}"#)
                            t = stop + delay
                        } else if orphaned, let dead {
                            // Found alive by the next start and stopped (the writer ends the row as 'stopped').
                            leftovers.append((instanceID, pid, t / 10))
                            stop = dead.until
                            try db.execute(sql: "UPDATE instances SET ended_at = ?, class = 'stopped', uptime_ms = ? WHERE id = ?",
                                           arguments: [stop, stop - t, instanceID])
                            t = dead.until + random.int(0...1000)
                        } else {
                            t = end
                        }
                        list.append((instanceID, began, stop))
                    }
                    streams.append((programId, list))
                }
            }

            // The dead run, closed the way HistoryStore.beginRun closes it at the next start.
            if let dead {
                let last = lastEvent[dead.run] ?? dead.from
                try db.execute(sql: "UPDATE runs SET stopped_at = ?, stop_reason = 'unclean' WHERE id = ?", arguments: [last, dead.run])
                try event(ts: last, kind: 14, run: dead.run, detail: #"{"reason":"unclean","detected_ms":\#(dead.until)}"#)
                for l in leftovers {
                    try event(ts: dead.until, kind: 16, run: runID(at: dead.until), instance: l.id, value: l.pid,
                              detail: #"{"start_ticks":\#(l.ticks),"action":"stopped"}"#)
                }
            }

            // Two recording gaps, in the middle of the history (ts = from_ms, as the writer records them).
            for g in 1...2 {
                let at = start + Int64(g) * (end - start) / 3
                let dropped = 42 * Int64(g)
                try event(ts: at - 30_000, kind: 15, run: runID(at: at), value: dropped, detail: """
                    {"from_ms":\(at - 30_000),"to_ms":\(at - 1000),"reason":"queue_full",\
                    "dropped_by_kind":{"exit":\(dropped / 2),"start":\(dropped - dropped / 2)},"recorded_ms":\(at)}
                    """)
            }

            try snapshots(from: max(start, end - Int64(size.snapshotDays * Double(dayMs))))
            try scans(from: start)
        }

        mutating func event(ts: Int64, kind: Int, run: Int64? = nil, program: Int64? = nil, instance: Int64? = nil,
                            value: Int64? = nil, detail: String? = nil) throws {
            // One prepared statement for all ~11 M events, bound through the C API (FixtureInsert).
            if eventStatement == nil {
                eventStatement = try FixtureInsert(db, sql: """
                    INSERT INTO events (ts, kind, run_id, program_id, instance_id, value, detail) VALUES (?, ?, ?, ?, ?, ?, ?)
                    """)
            }
            let stmt = eventStatement!
            stmt.bind(1, ts)
            stmt.bind(2, Int64(kind))
            stmt.bind(3, run)
            stmt.bind(4, program)
            stmt.bind(5, instance)
            stmt.bind(6, value)
            stmt.bind(7, detail)
            try stmt.run()
            if let run { lastEvent[run] = max(lastEvent[run] ?? .min, ts) }
            summary.events += 1
        }

        mutating func snapshots(from: Int64) throws {
            let every = size.snapshotEvery.milliseconds
            guard every > 0 else { return }
            let sweep = try db.cachedStatement(sql: "INSERT INTO sweeps (id, ts) VALUES (?, ?)")
            let snap = try FixtureInsert(db, sql: """
                INSERT INTO snapshots (sweep_id, instance_id, state, utime, stime, rss_kb, vsz_kb, threads, fds, procs)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """)
            var cursor = Array(repeating: 0, count: streams.count)
            var ts = from
            var sweepID: Int64 = 0
            while ts < end {
                // No sampling while histd is dead.
                if let dead, ts >= dead.from, ts < dead.until {
                    ts += every
                    continue
                }
                sweepID += 1
                try sweep.execute(arguments: [sweepID, ts])
                summary.sweeps += 1
                for (s, stream) in streams.enumerated() {
                    var c = cursor[s]
                    while c < stream.instances.count, stream.instances[c].end <= ts { c += 1 }
                    cursor[s] = c
                    guard c < stream.instances.count, stream.instances[c].start <= ts else { continue }
                    let inst = stream.instances[c]
                    let age = ts - inst.start
                    // Busy programs burn up to ~80% of a core; memory grows with age.
                    let busy = Int64(stream.programId % 5) * 20 + 1
                    let ticks = age / 1000 * busy / 100 * 100 / 100
                    snap.bind(1, sweepID)
                    snap.bind(2, inst.id)
                    snap.bind(3, stream.programId % 7 == 0 ? "R" : "S")
                    snap.bind(4, ticks * 3 / 4)
                    snap.bind(5, ticks / 4)
                    snap.bind(6, 10_000 + stream.programId * 100 + age / 60_000)
                    snap.bind(7, Int64(200_000))
                    snap.bind(8, Int64(4))
                    snap.bind(9, Int64(12))
                    snap.bind(10, Int64(1))
                    try snap.run()
                    summary.snapshots += 1
                }
                ts += every
            }
        }

        mutating func scans(from: Int64) throws {
            let every = size.scanEvery.milliseconds
            guard every > 0 else { return }
            let scan = try db.cachedStatement(sql: """
                INSERT INTO scans (ts, run_id, total, running, sleeping, disk_sleep, zombie, stopped, other, total_rss_kb)
                VALUES (?, NULL, ?, ?, ?, 0, ?, 0, 0, ?)
                """)
            var ts = from
            var n: Int64 = 0
            while ts < end {
                n += 1
                try scan.execute(arguments: [ts, 300 + n % 17, 2 + n % 3, 290, n % 5 == 0 ? 1 : 0, 4_000_000 + n % 1000])
                summary.scans += 1
                ts += every
            }
            // A handful of zombie parents and orphans spread over the history.
            let span = end - from
            for k in 0..<10 {
                let first = from + Int64(k) * span / 10
                try db.execute(sql: """
                    INSERT INTO zombie_parents (parent_pid, parent_start_ticks, parent_name, parent_cmdline, max_zombies,
                                                last_zombies, first_seen, last_seen, scans)
                    VALUES (?, ?, 'leaky', '/usr/bin/leaky --serve', ?, 1, ?, ?, 5)
                    """, arguments: [4000 + k, first / 10, 1 + k, first, first + 5 * every])
                try db.execute(sql: """
                    INSERT INTO orphans (pid, start_ticks, name, cmdline, user, started_at, program_id, reason,
                                         first_seen, last_seen, scans)
                    VALUES (?, ?, 'stray', 'stray --loop', 'nobody', ?, ?, 'adopted_by_histd', ?, ?, 12)
                    """, arguments: [5000 + k, first / 10, first - 7_200_000, k % 2 == 0 ? 1 : nil, first, first + 12 * every])
            }
        }
    }
}
