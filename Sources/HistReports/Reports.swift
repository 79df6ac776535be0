import Foundation
import GRDB
import HistModel
import HistStore

/// The range and program filter shared by every report.
public struct ReportScope: Hashable, Sendable {
    public var since: Timestamp
    public var until: Timestamp
    /// Program names to keep; empty keeps all.
    public var programs: [String]
    /// The current time (for uptime and "the last hour").
    public var now: Timestamp
    /// Names in `programs` that are pool workers (`jobs.0`), with their pool (ProgramFilter.resolve).
    public var workerPools: [String: String]

    public init(since: Timestamp, until: Timestamp, programs: [String] = [], now: Timestamp = .now(),
                workerPools: [String: String] = [:]) {
        self.since = since
        self.until = until
        self.programs = programs
        self.now = now
        self.workerPools = workerPools
    }

    /// The named parameters every query may use: `:since`, `:until`, `:now`, `:programs` (a JSON array).
    /// Queries over instances match a name in `:programs` as a program or as `POOL.INDEX`.
    var arguments: [String: (any DatabaseValueConvertible)?] {
        ["since": since.milliseconds, "until": until.milliseconds, "now": now.milliseconds,
         "programs": Renderer.json(programs), "supervisor_dead": 0, "after_id": -1, "limit": 1_000_000]
    }

    /// `arguments` plus the whole UTC hours inside the range, for queries that read hourly rollups
    /// (migrations/0007_rollups.sql) for those and raw rows only for the partial hours at the edges:
    /// `:whole_from` ..< `:whole_until`, hour-aligned; both are `:until` when no whole hour fits.
    var rollupArguments: [String: (any DatabaseValueConvertible)?] {
        var args = arguments
        let (from, until) = ReportScope.wholeHours(since: since.milliseconds, until: until.milliseconds)
        args["whole_from"] = from
        args["whole_until"] = until
        return args
    }

    /// The whole hours (of 3,600,000 ms, aligned as `ms - ms % 3600000`) inside [since, until).
    static func wholeHours(since: Int64, until: Int64) -> (from: Int64, until: Int64) {
        let hour: Int64 = 3_600_000
        func floor(_ ms: Int64) -> Int64 { let r = ms % hour; return r < 0 ? ms - r - hour : ms - r }
        let lo = floor(since) == since ? since : floor(since) + hour
        let hi = floor(until)
        return lo < hi ? (lo, hi) : (until, until)
    }

    /// The same, for queries with one row per program (status, loops): a worker name stands for its pool.
    var programArguments: [String: (any DatabaseValueConvertible)?] {
        var args = arguments
        var names: [String] = []
        for name in programs {
            let program = workerPools[name] ?? name
            if !names.contains(program) { names.append(program) }
        }
        args["programs"] = Renderer.json(names)
        return args
    }
}

extension Renderer {
    /// A JSON array of strings (for binding `:programs`).
    static func json(_ strings: [String]) -> String {
        "[" + strings.map(jsonString).joined(separator: ",") + "]"
    }
}

/// `histctl zombies --min-duration/--min-zombies`: which zombie parents are worth showing.
public struct ZombieFilter: Hashable, Sendable {
    /// Consecutive scans that saw the parent with zombies.
    public var minScans: Int
    /// last_seen - first_seen.
    public var minDuration: Duration
    /// Zombies at once.
    public var minZombies: Int
    public init(minScans: Int = 2, minDuration: Duration = .zero, minZombies: Int = 1) {
        self.minScans = minScans
        self.minDuration = minDuration
        self.minZombies = minZombies
    }
}

/// `histctl top --sort`.
public enum TopSort: String, CaseIterable, Sendable { case cpu, rss }

/// Each report: its query file and column list. The query's columns must come in this order
/// (a unit test checks the names against the SQL).
public enum Reports {
    public static let crashColumns = [
        ReportColumn("time", .time), ReportColumn("program"), ReportColumn("pid", drop: 3), ReportColumn("exit_code"),
        ReportColumn("signal", .signal), ReportColumn("core_dumped", .bool, drop: 1), ReportColumn("uptime_s", .seconds),
        ReportColumn("restart_delay_s", .seconds, drop: 2), ReportColumn("reason"), ReportColumn("stderr_tail", shorten: .lastLine),
    ]
    /// crashes.sql's two trailing columns, its rows' order (not shown; `crashes` sorts by them).
    static let crashOrderColumns = [ReportColumn("source"), ReportColumn("seq")]
    public static let crashSummaryColumns = [
        ReportColumn("program"), ReportColumn("crashes"), ReportColumn("limit_kills"), ReportColumn("first", .time),
        ReportColumn("last", .time), ReportColumn("exit_codes"), ReportColumn("signals", .signalList),
    ]
    public static let loopColumns = [
        ReportColumn("program"), ReportColumn("crashes"), ReportColumn("first", .time, drop: 3), ReportColumn("last", .time),
        ReportColumn("longest_uptime_s", .seconds, drop: 2), ReportColumn("max_restart_delay_s", .seconds, drop: 1), ReportColumn("gave_up", .bool),
        ReportColumn("state"), ReportColumn("workers"),
    ]
    public static let zombieColumns = [
        ReportColumn("parent_pid"), ReportColumn("parent_name", drop: 2), ReportColumn("parent_cmdline", shorten: .ellipsis),
        ReportColumn("program"), ReportColumn("max_zombies"), ReportColumn("first_seen", .time, drop: 1), ReportColumn("last_seen", .time),
        ReportColumn("duration_s", .seconds),
    ]
    public static let orphanColumns = [
        ReportColumn("pid"), ReportColumn("name"), ReportColumn("cmdline", shorten: .ellipsis), ReportColumn("user", drop: 1),
        ReportColumn("started", .time, drop: 2), ReportColumn("age_s", .seconds), ReportColumn("first_seen", .time, drop: 3),
        ReportColumn("last_seen", .time), ReportColumn("alive", .bool), ReportColumn("program"),
    ]
    public static let breachColumns = [
        ReportColumn("time", .time), ReportColumn("program"), ReportColumn("pid", drop: 1), ReportColumn("limit"),
        ReportColumn("value"), ReportColumn("threshold"), ReportColumn("action"), ReportColumn("refused"),
    ]
    public static let statusColumns = [
        ReportColumn("program"), ReportColumn("kind"), ReportColumn("state"), ReportColumn("pid"),
        ReportColumn("workers"), ReportColumn("uptime_s", .seconds), ReportColumn("restarts_1h"),
        ReportColumn("last_exit_at", .time, drop: 4), ReportColumn("last_exit_code", drop: 2), ReportColumn("last_signal", .signal, drop: 3),
        ReportColumn("last_exit_class", drop: 5), ReportColumn("last_event", .time, drop: 1), ReportColumn("last_snapshot", .time, drop: 1),
        ReportColumn("run_open", .bool, drop: 1),
    ]
    public static let topColumns = [
        ReportColumn("time", .time), ReportColumn("program"), ReportColumn("worker"), ReportColumn("pid"),
        ReportColumn("state"), ReportColumn("cpu_pct"), ReportColumn("rss_kb"), ReportColumn("vsz_kb", drop: 1),
        ReportColumn("threads", drop: 3), ReportColumn("fds", drop: 2), ReportColumn("procs", drop: 4),
    ]
    public static let scanColumns = [
        ReportColumn("time", .time), ReportColumn("total"), ReportColumn("running"), ReportColumn("sleeping"),
        ReportColumn("disk_sleep", drop: 1), ReportColumn("zombie"), ReportColumn("stopped", drop: 2), ReportColumn("other", drop: 3),
        ReportColumn("total_rss_kb"),
    ]
    public static let timelineColumns = [
        ReportColumn("time", .time), ReportColumn("kind"), ReportColumn("program"), ReportColumn("pid"),
        ReportColumn("value"), ReportColumn("detail", shorten: .ellipsis),
    ]
    public static let runColumns = [
        ReportColumn("run"), ReportColumn("host"), ReportColumn("pid"), ReportColumn("version"),
        ReportColumn("started_at", .time), ReportColumn("stopped_at", .time), ReportColumn("stop_reason"),
        ReportColumn("last_record", .time), ReportColumn("next_start", .time),
    ]
    public static let gapColumns = [
        ReportColumn("time", .time), ReportColumn("from", .time), ReportColumn("until", .time), ReportColumn("dropped"),
        ReportColumn("reason"), ReportColumn("source"),
    ]
    public static let eventColumns = [
        ReportColumn("id"), ReportColumn("time", .time), ReportColumn("program"), ReportColumn("pid"), ReportColumn("event"),
        ReportColumn("value"), ReportColumn("detail"), ReportColumn("exit_code"), ReportColumn("signal"), ReportColumn("class"),
    ]
    public static let usageColumns = [
        ReportColumn("program"), ReportColumn("bucket"), ReportColumn("time", .time), ReportColumn("rss_kb"), ReportColumn("cpu_pct"),
    ]
    public static let limitColumns = [
        ReportColumn("program"), ReportColumn("run"), ReportColumn("started_at", .time), ReportColumn("stopped_at", .time),
        ReportColumn("max_memory_mb"), ReportColumn("cgroup_memory_b"), ReportColumn("cpu_quota_pct"),
    ]

    /// Every query file with its columns (used by tests: names, plans).
    public static let catalog: [(query: String, columns: [ReportColumn])] = [
        ("crashes", crashColumns + crashOrderColumns), ("crashes_count", [ReportColumn("crashes")]), ("crashes_summary", crashSummaryColumns), ("loops", loopColumns),
        ("zombies", zombieColumns), ("orphans", orphanColumns), ("breaches", breachColumns),
        ("status", statusColumns), ("top", topColumns), ("top_scan", scanColumns),
        ("top_nearest", [ReportColumn("source"), ReportColumn("time", .time), ReportColumn("interval_ms")]), ("timeline", timelineColumns),
        ("runs", runColumns), ("gaps", gapColumns), ("usage", usageColumns), ("events", eventColumns),
        ("limits", limitColumns),
    ]

    /// Every crash (or limit kill) in the scope, oldest first; `summary` groups them by program. `newest`
    /// keeps only the newest N crashes (still oldest first); it does not apply to the summary.
    public static func crashes(_ db: ReportDatabase, _ scope: ReportScope, summary: Bool = false, newest: Int? = nil) throws(ReportError) -> ReportResult {
        var args = scope.rollupArguments
        args["limit"] = newest ?? -1
        if summary { return try db.run(query: "crashes_summary", arguments: args, columns: crashSummaryColumns) }
        // The query's rows come unordered, with their order in two more columns (queries/crashes.sql).
        return inOrder(try db.run(query: "crashes", arguments: args, columns: crashColumns + crashOrderColumns), columns: crashColumns)
    }

    /// Every crash in the scope as a whole CSV or JSON document (nil for other formats) and its row count:
    /// the bytes `Renderer.bytes(crashes(db, scope), as: format)` gives, written straight from the query's
    /// rows (ListingBytes: no row arrays, one sort of the keys), for `histctl crashes --format csv|json`.
    public static func crashListing(_ db: ReportDatabase, _ scope: ReportScope, format: OutputFormat) throws(ReportError) -> (bytes: [UInt8], rows: Int)? {
        guard let listing = ListingBytes(columns: crashColumns, format: format) else { return nil }
        var args = scope.rollupArguments
        args["limit"] = -1
        return try db.withStatement(query: "crashes", arguments: args) { statement, database in
            try listing.build(statement, database)
        }
    }

    /// `r`'s rows sorted by (column 0 as a time, then the two integer columns after `columns`), as a
    /// result with `columns` only. One sort of 67 k small keys here is a few ms; SQLite's sort of the same
    /// rows, stderr tails and all, cost about 35 ms CPU. `r` is consumed, so that each row array is
    /// trimmed in place (a row array still shared with the caller would be copied).
    static func inOrder(_ r: consuming ReportResult, columns: [ReportColumn]) -> ReportResult {
        let shown = columns.count
        func int(_ v: ReportValue) -> Int64 {
            switch v {
            case .integer(let n): n
            case .time(let t): t.milliseconds
            default: .min
            }
        }
        var rows = r.rows
        r.rows = []
        var keys: [(Int64, Int64, Int64, Int)] = []
        keys.reserveCapacity(rows.count)
        for i in rows.indices {
            keys.append((int(rows[i][0]), int(rows[i][shown]), int(rows[i][shown + 1]), i))
            rows[i].removeLast(rows[i].count - shown)
        }
        keys.sort { ($0.0, $0.1, $0.2) < ($1.0, $1.1, $1.2) }
        var sorted: [[ReportValue]] = []
        sorted.reserveCapacity(rows.count)
        for k in keys { sorted.append(rows[k.3]) }
        return ReportResult(columns: columns, rows: sorted)
    }

    /// How many crashes `crashes` would return without `newest`.
    public static func crashCount(_ db: ReportDatabase, _ scope: ReportScope) throws(ReportError) -> Int {
        let r = try db.run(query: "crashes_count", arguments: scope.rollupArguments, columns: [ReportColumn("crashes")])
        if case .integer(let n) = r.rows.first?.first { return Int(n) }
        return 0
    }

    /// Programs with at least `minCrashes` crashes inside one sliding `window`.
    public static func loops(_ db: ReportDatabase, _ scope: ReportScope, window: Duration, minCrashes: Int) throws(ReportError) -> ReportResult {
        var args = scope.programArguments
        args["window_ms"] = window.milliseconds
        args["min_crashes"] = minCrashes
        let (from, until) = loopRollupHours(db, scope, window: window, minCrashes: minCrashes)
        args["loop_from"] = from
        args["loop_until"] = until
        let days = loopRollupDays(from: from, until: until, hasDays: db.hasDayRollups)
        args["day_from"] = days.0
        args["day_until"] = days.1
        args["days"] = db.hasDayRollups ? 1 : 0
        return try db.run(query: "loops", arguments: args, columns: loopColumns)
    }

    /// Of the rollup hours [from, until) `loops` reads, the whole UTC days it reads from `loop_days`
    /// (migrations/0015_day_rollups.sql); none (both `until`) when no whole day lies inside, before 1970
    /// (where the day buckets, like the hour buckets, are not floors) or when the day tables are stand-ins.
    static func loopRollupDays(from: Int64, until: Int64, hasDays: Bool) -> (Int64, Int64) {
        let day: Int64 = 86_400_000
        guard hasDays, from > 0, from < until else { return (until, until) }
        let lo = from % day == 0 ? from : from - from % day + day
        let hi = until - until % day
        return lo < hi ? (lo, hi) : (until, until)
    }

    /// The whole hours `loops` reads from the `loop_hours` rollup: those at least one window inside the
    /// range (a crash's loop membership depends only on the crashes within one window of it, so there the
    /// history-wide membership the rollup keeps equals the membership within the range). None (both
    /// `:until`) unless the window and count are the ones the rollup is kept for and the table exists.
    static func loopRollupHours(_ db: ReportDatabase, _ scope: ReportScope, window: Duration, minCrashes: Int) -> (Int64, Int64) {
        let none = (scope.until.milliseconds, scope.until.milliseconds)
        guard window.milliseconds == CrashLoopMembers.rollupWindowMs, minCrashes == CrashLoopMembers.rollupMinCrashes,
              db.hasLoopRollup else { return none }
        let w = CrashLoopMembers.rollupWindowMs
        let since = scope.since.milliseconds, until = scope.until.milliseconds
        // Clamp so that ± one window cannot overflow (histctl's "the beginning of time" is Int64.min).
        let lo = max(since, -(1 << 62)) + w, hi = min(until, 1 << 62) - w
        guard lo < hi else { return none }
        let hours = ReportScope.wholeHours(since: lo, until: hi)
        return hours.from < hours.until ? (hours.from, hours.until) : none
    }

    /// Zombie parents whose interval overlaps the scope and passes the filter (transient one-scan zombies
    /// are normal: the default filter wants 2 scans).
    public static func zombies(_ db: ReportDatabase, _ scope: ReportScope, filter: ZombieFilter = ZombieFilter()) throws(ReportError) -> ReportResult {
        var args = scope.arguments
        args["min_scans"] = filter.minScans
        args["min_duration_ms"] = filter.minDuration.milliseconds
        args["min_zombies"] = filter.minZombies
        return try db.run(query: "zombies", arguments: args, columns: zombieColumns)
    }

    /// Orphans seen in the scope that were at least `olderThan` old at their last sighting.
    public static func orphans(_ db: ReportDatabase, _ scope: ReportScope, olderThan: Duration) throws(ReportError) -> ReportResult {
        var args = scope.programArguments
        args["older_than_ms"] = olderThan.milliseconds
        return try db.run(query: "orphans", arguments: args, columns: orphanColumns)
    }

    /// Limit breaches in the scope.
    public static func breaches(_ db: ReportDatabase, _ scope: ReportScope) throws(ReportError) -> ReportResult {
        try db.withPageCache(kib: 2048) { () throws(ReportError) in
            try db.run(query: "breaches", arguments: scope.arguments, columns: breachColumns)
        }
    }

    /// Each program's last known state as of `scope.now` (the range is not used).
    /// When the record says a supervisor run is open but its histd (pid + start time) is gone, no program
    /// shows `running`: live states become `unknown (histd not running since TIME)`.
    /// `supervisor`: the verdict to use instead of checking `/proc` (tests of the record's derivation on a
    /// fixture whose histd never ran here pass `.alive`).
    public static func status(_ db: ReportDatabase, _ scope: ReportScope,
                              supervisor: SupervisorLiveness.Verdict? = nil) throws(ReportError) -> ReportResult {
        var args = scope.programArguments
        let verdict: SupervisorLiveness.Verdict
        if let supervisor { verdict = supervisor } else { verdict = try SupervisorLiveness.check(db).verdict }
        args["supervisor_dead"] = verdict == .dead ? 1 : 0
        let (from, until) = restartRollupMinutes(now: scope.now.milliseconds, hasRollup: db.hasRestartRollup)
        args["rm_from"] = from
        args["rm_until"] = until
        return try db.withPageCache(kib: 2048) { () throws(ReportError) in
            try db.run(query: "status", arguments: args, columns: statusColumns)
        }
    }

    /// The whole minutes (as the rollup aligns them: `ms - ms % 60000`) inside status's hour [now - 1 h, now],
    /// which it reads from `restart_minutes`; none (both now - 1 h) before 1970 + 1 h, where that alignment
    /// is not a floor, or when the table is a stand-in.
    static func restartRollupMinutes(now: Int64, hasRollup: Bool) -> (Int64, Int64) {
        let minute: Int64 = 60_000, lo = now &- 3_600_000
        guard hasRollup, lo >= 0, now < Int64.max - minute else { return (lo, lo) }
        let from = lo % minute == 0 ? lo : lo - lo % minute + minute
        let until = (now + 1) - (now + 1) % minute
        return from < until ? (from, until) : (lo, lo)
    }
}
