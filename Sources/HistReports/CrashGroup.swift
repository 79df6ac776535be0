import HistModel

/// Crashes of one program with the same stderr tail, collapsed into one entry ("×261 identical, first …
/// last …"): a crash loop repeats its tail, and repeating it in full hides the few tails that differ.
public struct CrashGroup: Hashable, Sendable {
    public var program: String
    /// The shared stderr tail; nil when the processes printed nothing.
    public var tail: String?
    public var count: Int
    /// How many of them were limit kills (reason `limit`).
    public var limitKills: Int
    public var first: Timestamp
    public var last: Timestamp
    public var firstPID: Int64?
    public var lastPID: Int64?
    /// How they ended, in order of first appearance: "exit 3", "SIGSEGV (core)", ...
    public var endings: [String]

    /// Groups `crashes` (the crashes report, oldest first) by (program, stderr tail), in order of each
    /// group's first crash.
    public static func groups(_ crashes: ReportResult) -> [CrashGroup] {
        let col = Dictionary(crashes.columns.enumerated().map { ($1.name, $0) }, uniquingKeysWith: { a, _ in a })
        func cell(_ row: [ReportValue], _ name: String) -> ReportValue { col[name].map { row[$0] } ?? .null }
        struct Key: Hashable { var program: String; var tail: String? }
        var index: [Key: Int] = [:]
        var out: [CrashGroup] = []
        for row in crashes.rows {
            guard case .time(let t) = cell(row, "time") else { continue }
            let program: String = if case .text(let p) = cell(row, "program") { p } else { "" }
            let tail: String? = if case .text(let s) = cell(row, "stderr_tail") { s } else { nil }
            var pid: Int64?
            if case .integer(let n) = cell(row, "pid") { pid = n }
            let ending = Self.ending(row, cell)
            let isLimit = cell(row, "reason") == .text("limit")
            let key = Key(program: program, tail: tail)
            if let i = index[key] {
                out[i].count += 1
                out[i].limitKills += isLimit ? 1 : 0
                out[i].first = min(out[i].first, t)
                if t >= out[i].last { out[i].last = t; out[i].lastPID = pid }
                if !out[i].endings.contains(ending) { out[i].endings.append(ending) }
            } else {
                index[key] = out.count
                out.append(CrashGroup(program: program, tail: tail, count: 1, limitKills: isLimit ? 1 : 0, first: t, last: t,
                                      firstPID: pid, lastPID: pid, endings: [ending]))
            }
        }
        return out
    }

    /// "exit 3", "SIGSEGV (core)", "limit: SIGTERM".
    static func ending(_ row: [ReportValue], _ cell: ([ReportValue], String) -> ReportValue) -> String {
        if cell(row, "reason") == .text("spawn_failed") { return "spawn failed" }
        var s: String
        switch (cell(row, "exit_code"), cell(row, "signal")) {
        case (.integer(let c), _): s = "exit \(c)"
        case (_, .text(let sig)): s = sig
        case (_, .integer(let n)): s = "signal \(n)"
        default: s = "unknown"
        }
        if cell(row, "core_dumped") == .bool(true) { s += " (core)" }
        if cell(row, "reason") == .text("limit") { s = "limit: " + s }
        return s
    }

    /// "×261 identical, first 10:00:01 (pid 4711), last 10:59:58 (pid 5023)", or "1 crash at …".
    public func summary(_ time: (Timestamp) -> String) -> String {
        func pid(_ p: Int64?) -> String { p.map { " (pid \($0))" } ?? "" }
        if count == 1 { return "1 crash at \(time(first))\(pid(firstPID))" }
        return "×\(count) identical, first \(time(first))\(pid(firstPID)), last \(time(last))\(pid(lastPID))"
    }
}
