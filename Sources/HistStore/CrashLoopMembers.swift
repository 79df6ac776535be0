/// Which crashes of one program are in a crash loop: the definition `histctl loops` uses, shared by the
/// report (HistReports' `histctl_crash_loop` aggregate) and the `loop_hours` rollup the writer keeps
/// (migrations/0011_loop_rollups.sql), so the two cannot drift apart.
///
/// A crash is in a loop when some window of `window` ms holds at least `minCrashes` crashes and
/// contains it. With the crashes sorted by time that is: some run of `minCrashes` consecutive crashes
/// that includes it spans at most `window`. Membership depends only on the times, so ties may come in
/// any order. Adding a crash never takes another one out of a loop.
public enum CrashLoopMembers {
    /// The window `loop_hours` is kept for: `histctl loops`' default `--window 10m`.
    public static let rollupWindowMs: Int64 = 600_000
    /// The crashes per window `loop_hours` is kept for: `histctl loops`' default `--min-crashes 3`.
    /// migrations/0011_loop_rollups.sql spells the three runs of 3 out (lag/lead by 2).
    public static let rollupMinCrashes = 3

    /// Indexes (into `ts`) of the crashes that are in a loop. `ts` need not be sorted.
    public static func members(ts: [Int64], window: Int64, minCrashes: Int) -> [Int] {
        let n = ts.count
        let k = max(1, minCrashes)
        guard n >= k else { return [] }
        // Callers usually pass the crashes in time order; sort only if they are not.
        var order = Array(0..<n)
        if zip(ts, ts.dropFirst()).contains(where: { $0 > $1 }) {
            order.sort { (ts[$0], $0) < (ts[$1], $1) }
        }
        var out: [Int] = []
        // lastStart: the latest position a <= j whose run a ..< a + k spans at most `window`.
        var lastStart = Int.min
        for j in 0..<n {
            if j + k - 1 < n, ts[order[j + k - 1]] - ts[order[j]] <= window { lastStart = j }
            if lastStart != Int.min, lastStart >= j - k + 1 { out.append(order[j]) }
        }
        return out
    }
}
