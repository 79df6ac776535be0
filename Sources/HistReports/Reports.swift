import Foundation
import GRDB
import HistModel

/// The range and program filter shared by every report.
public struct ReportScope: Hashable, Sendable {
    public var since: Timestamp
    public var until: Timestamp
    /// Program names to keep; empty keeps all.
    public var programs: [String]
    /// The current time (for uptime and "the last hour").
    public var now: Timestamp

    public init(since: Timestamp, until: Timestamp, programs: [String] = [], now: Timestamp = .now()) {
        self.since = since
        self.until = until
        self.programs = programs
        self.now = now
    }

    /// The named parameters every query may use: `:since`, `:until`, `:now`, `:programs` (a JSON array).
    var arguments: [String: (any DatabaseValueConvertible)?] {
        ["since": since.milliseconds, "until": until.milliseconds, "now": now.milliseconds,
         "programs": Renderer.json(programs)]
    }
}

extension Renderer {
    /// A JSON array of strings (for binding `:programs`).
    static func json(_ strings: [String]) -> String {
        "[" + strings.map(jsonString).joined(separator: ",") + "]"
    }
}

/// `histctl top --sort`.
public enum TopSort: String, CaseIterable, Sendable { case cpu, rss }

/// Each report: its query file and column list. The query's columns must come in this order
/// (a unit test checks the names against the SQL).
public enum Reports {
    public static let crashColumns = [
        ReportColumn("time", .time), ReportColumn("program"), ReportColumn("pid"), ReportColumn("exit_code"),
        ReportColumn("signal", .signal), ReportColumn("core_dumped", .bool), ReportColumn("uptime_s"),
        ReportColumn("restart_delay_s"), ReportColumn("reason"), ReportColumn("stderr_tail"),
    ]
    public static let crashSummaryColumns = [
        ReportColumn("program"), ReportColumn("crashes"), ReportColumn("limit_kills"), ReportColumn("first", .time),
        ReportColumn("last", .time), ReportColumn("exit_codes"), ReportColumn("signals", .signalList),
    ]
    public static let loopColumns = [
        ReportColumn("program"), ReportColumn("crashes"), ReportColumn("first", .time), ReportColumn("last", .time),
        ReportColumn("longest_uptime_s"), ReportColumn("max_restart_delay_s"), ReportColumn("gave_up", .bool),
        ReportColumn("state"), ReportColumn("workers"),
    ]
    public static let zombieColumns = [
        ReportColumn("parent_pid"), ReportColumn("parent_name"), ReportColumn("parent_cmdline"),
        ReportColumn("max_zombies"), ReportColumn("first_seen", .time), ReportColumn("last_seen", .time),
        ReportColumn("duration_s"),
    ]
    public static let orphanColumns = [
        ReportColumn("pid"), ReportColumn("name"), ReportColumn("cmdline"), ReportColumn("user"),
        ReportColumn("started", .time), ReportColumn("age_s"), ReportColumn("first_seen", .time),
        ReportColumn("last_seen", .time), ReportColumn("alive", .bool), ReportColumn("program"),
    ]
    public static let breachColumns = [
        ReportColumn("time", .time), ReportColumn("program"), ReportColumn("pid"), ReportColumn("limit"),
        ReportColumn("value"), ReportColumn("threshold"), ReportColumn("action"),
    ]
    public static let statusColumns = [
        ReportColumn("program"), ReportColumn("kind"), ReportColumn("state"), ReportColumn("pid"),
        ReportColumn("workers"), ReportColumn("uptime_s"), ReportColumn("restarts_1h"),
        ReportColumn("last_exit_at", .time), ReportColumn("last_exit_code"), ReportColumn("last_signal", .signal),
        ReportColumn("last_exit_class"), ReportColumn("last_event", .time), ReportColumn("last_snapshot", .time),
        ReportColumn("run_open", .bool),
    ]
    public static let topColumns = [
        ReportColumn("time", .time), ReportColumn("program"), ReportColumn("worker"), ReportColumn("pid"),
        ReportColumn("state"), ReportColumn("cpu_pct"), ReportColumn("rss_kb"), ReportColumn("vsz_kb"),
        ReportColumn("threads"), ReportColumn("fds"), ReportColumn("procs"),
    ]
    public static let scanColumns = [
        ReportColumn("time", .time), ReportColumn("total"), ReportColumn("running"), ReportColumn("sleeping"),
        ReportColumn("disk_sleep"), ReportColumn("zombie"), ReportColumn("stopped"), ReportColumn("other"),
        ReportColumn("total_rss_kb"),
    ]
    public static let timelineColumns = [
        ReportColumn("time", .time), ReportColumn("kind"), ReportColumn("program"), ReportColumn("pid"),
        ReportColumn("value"), ReportColumn("detail"),
    ]
    public static let runColumns = [
        ReportColumn("run"), ReportColumn("host"), ReportColumn("pid"), ReportColumn("version"),
        ReportColumn("started_at", .time), ReportColumn("stopped_at", .time), ReportColumn("stop_reason"),
        ReportColumn("last_record", .time), ReportColumn("next_start", .time),
    ]
    public static let gapColumns = [
        ReportColumn("time", .time), ReportColumn("from", .time), ReportColumn("until", .time), ReportColumn("dropped"),
        ReportColumn("reason"),
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
        ("crashes", crashColumns), ("crashes_summary", crashSummaryColumns), ("loops", loopColumns),
        ("zombies", zombieColumns), ("orphans", orphanColumns), ("breaches", breachColumns),
        ("status", statusColumns), ("top", topColumns), ("top_scan", scanColumns), ("timeline", timelineColumns),
        ("runs", runColumns), ("gaps", gapColumns), ("usage", usageColumns),
        ("limits", limitColumns),
    ]

    /// Every crash (or limit kill) in the scope; `summary` groups them by program.
    public static func crashes(_ db: ReportDatabase, _ scope: ReportScope, summary: Bool = false) throws(ReportError) -> ReportResult {
        summary
            ? try db.run(query: "crashes_summary", arguments: scope.arguments, columns: crashSummaryColumns)
            : try db.run(query: "crashes", arguments: scope.arguments, columns: crashColumns)
    }

    /// Programs with at least `minCrashes` crashes inside one sliding `window`.
    public static func loops(_ db: ReportDatabase, _ scope: ReportScope, window: Duration, minCrashes: Int) throws(ReportError) -> ReportResult {
        var args = scope.arguments
        args["window_ms"] = window.milliseconds
        args["min_crashes"] = minCrashes
        return try db.run(query: "loops", arguments: args, columns: loopColumns)
    }

    /// Zombie parents whose interval overlaps the scope.
    public static func zombies(_ db: ReportDatabase, _ scope: ReportScope) throws(ReportError) -> ReportResult {
        try db.run(query: "zombies", arguments: scope.arguments, columns: zombieColumns)
    }

    /// Orphans seen in the scope that were at least `olderThan` old at their last sighting.
    public static func orphans(_ db: ReportDatabase, _ scope: ReportScope, olderThan: Duration) throws(ReportError) -> ReportResult {
        var args = scope.arguments
        args["older_than_ms"] = olderThan.milliseconds
        return try db.run(query: "orphans", arguments: args, columns: orphanColumns)
    }

    /// Limit breaches in the scope.
    public static func breaches(_ db: ReportDatabase, _ scope: ReportScope) throws(ReportError) -> ReportResult {
        try db.run(query: "breaches", arguments: scope.arguments, columns: breachColumns)
    }

    /// Each program's last known state as of `scope.now` (the range is not used).
    public static func status(_ db: ReportDatabase, _ scope: ReportScope) throws(ReportError) -> ReportResult {
        try db.run(query: "status", arguments: scope.arguments, columns: statusColumns)
    }

    /// The sweep nearest to `at`, sorted, and the scan nearest to `at` (nil when there is none).
    public static func top(_ db: ReportDatabase, at: Timestamp, sort: TopSort, limit: Int, programs: [String]) throws(ReportError) -> (processes: ReportResult, scan: ReportResult) {
        var args = ReportScope(since: at, until: at, programs: programs, now: at).arguments
        args["at"] = at.milliseconds
        args["sort"] = sort.rawValue
        args["limit"] = limit
        let processes = try db.run(query: "top", arguments: args, columns: topColumns)
        let scan = try db.run(query: "top_scan", arguments: args, columns: scanColumns)
        return (processes, scan)
    }
}
