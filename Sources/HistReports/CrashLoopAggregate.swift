import Foundation
import GRDB
import HistStore

/// The SQL aggregate `histctl_crash_loop(ts, worker_index, uptime_ms, window_ms, min_crashes)` that
/// queries/loops.sql runs once per program over its crashes.
///
/// A crash belongs to a loop when some window of `window_ms` that starts at a crash holds at least
/// `min_crashes` crashes and contains it. With the crashes of one program sorted by time, that is: some
/// run of `min_crashes` consecutive crashes that includes it spans at most `window_ms`. One linear pass
/// finds them; SQLite's window functions need two passes through temporary tables (about 1.5 µs per
/// crash each), which is seconds over a month of a busy history.
///
/// The result is NULL when no crash is in a loop, else a JSON object
/// `{"crashes":N,"first":ms,"last":ms,"longest_uptime_ms":ms|null,"workers":"0,2"|null}` over the crashes
/// in loops (workers: distinct non-NULL worker indexes, ascending).
struct CrashLoopAggregate: DatabaseAggregate {
    /// The SQL name.
    static let name = "histctl_crash_loop"
    static let function = DatabaseFunction(name, argumentCount: 5, pure: true, aggregate: CrashLoopAggregate.self)
    /// The same with a sixth argument, `counted`: rows with `counted` = 0 are context only. They decide
    /// which crashes are in a loop but are left out of the result. queries/loops.sql reads the middle of
    /// a long range from the `loop_hours` rollup and gives this the edges plus one window of context.
    static let partFunction = DatabaseFunction(name, argumentCount: 6, pure: true, aggregate: CrashLoopAggregate.self)

    /// The rows so far. A class, so that GRDB's handling of the aggregate value (an existential it
    /// mutates per row) never copies the arrays: that made each step O(rows).
    /// `@exclusivity(unchecked)`: one row at a time on one connection; the dynamic checks cost more
    /// than the work per row.
    final class State {
        @exclusivity(unchecked) var ts: [Int64] = []
        @exclusivity(unchecked) var workers: [Int64?] = []
        @exclusivity(unchecked) var uptimes: [Int64?] = []
        /// nil while every row counts (the five-argument form).
        @exclusivity(unchecked) var counted: [Bool]?
        @exclusivity(unchecked) var window: Int64 = 0
        @exclusivity(unchecked) var minCrashes = 1
    }
    let state = State()

    init() {}

    func step(_ dbValues: [DatabaseValue]) throws {
        // Rows without an end time are not crashes (the query filters on ended_at; be safe anyway).
        guard let t = Int64.fromDatabaseValue(dbValues[0]) else { return }
        let s = state
        s.ts.append(t)
        s.workers.append(Int64.fromDatabaseValue(dbValues[1]))
        s.uptimes.append(Int64.fromDatabaseValue(dbValues[2]))
        if dbValues.count > 5 {
            let c = (Int64.fromDatabaseValue(dbValues[5]) ?? 1) != 0
            if s.counted == nil {
                if !c { s.counted = Array(repeating: true, count: s.ts.count - 1) + [false] }
            } else {
                s.counted!.append(c)
            }
        }
        if s.ts.count == 1 {
            s.window = Int64.fromDatabaseValue(dbValues[3]) ?? 0
            s.minCrashes = max(1, Int(Int64.fromDatabaseValue(dbValues[4]) ?? 1))
        }
    }

    func finalize() throws -> (any DatabaseValueConvertible)? {
        var ts = state.ts, workers = state.workers, uptimes = state.uptimes
        var counted = state.counted
        let window = state.window, minCrashes = state.minCrashes
        // Crashes come in time order from the index; spawn failures (a second source in loops.sql) may
        // interleave, so sort when they did not arrive sorted (one check, no cost otherwise).
        if zip(ts, ts.dropFirst()).contains(where: { $0 > $1 }) {
            let order = ts.indices.sorted { ts[$0] < ts[$1] }
            (ts, workers, uptimes) = (order.map { ts[$0] }, order.map { workers[$0] }, order.map { uptimes[$0] })
            counted = counted.map { c in order.map { c[$0] } }
        }
        var loop = Self.members(ts: ts, window: window, minCrashes: minCrashes)
        if let counted { loop = loop.filter { counted[$0] } }
        guard !loop.isEmpty else { return nil }
        var first = Int64.max, last = Int64.min
        var longest: Int64?
        var slots = Set<Int64>()
        for j in loop {
            first = min(first, ts[j])
            last = max(last, ts[j])
            if let u = uptimes[j] { longest = max(longest ?? u, u) }
            if let w = workers[j] { slots.insert(w) }
        }
        let workerText = slots.isEmpty ? "null" : "\"" + slots.sorted().map(String.init).joined(separator: ",") + "\""
        return "{\"crashes\":\(loop.count),\"first\":\(first),\"last\":\(last),"
            + "\"longest_uptime_ms\":\(longest.map(String.init) ?? "null"),\"workers\":\(workerText)}"
    }

    /// Indexes (into `ts`) of the crashes that are in a loop (HistStore's `CrashLoopMembers`, which the
    /// `loop_hours` rollup uses too). `ts` need not be sorted.
    static func members(ts: [Int64], window: Int64, minCrashes: Int) -> [Int] {
        CrashLoopMembers.members(ts: ts, window: window, minCrashes: minCrashes)
    }
}
