import Foundation
import Testing
@testable import HistReports

/// The one-pass crash-loop membership of loops.sql (CrashLoopAggregate) against the definition, and the
/// span maxima of its restart delays (SpanMaxAggregate).
@Suite struct CrashLoopAggregateTests {
    /// The definition, by brute force: a crash is in a loop when some window [s, s + window] starting at a
    /// crash s holds at least `k` crashes and contains it.
    static func bruteForce(_ ts: [Int64], window: Int64, k: Int) -> Set<Int> {
        var out = Set<Int>()
        for s in ts {
            let inside = ts.indices.filter { ts[$0] >= s && ts[$0] <= s + window }
            if inside.count >= k { out.formUnion(inside) }
        }
        return out
    }

    @Test func membershipMatchesTheDefinition() {
        var rng = SystemRandomNumberGenerator()
        for trial in 0..<300 {
            let n = Int.random(in: 0...40, using: &rng)
            // Coarse times so that ties (several crashes in the same millisecond) happen.
            var ts = (0..<n).map { _ in Int64.random(in: 0...200, using: &rng) * 5 }
            if trial % 2 == 0 { ts.sort() }  // the query feeds them sorted; unsorted must work too
            let window = Int64.random(in: 0...60, using: &rng)
            let k = Int.random(in: 1...5, using: &rng)
            let got = Set(CrashLoopAggregate.members(ts: ts, window: window, minCrashes: k))
            #expect(got == Self.bruteForce(ts, window: window, k: k), "ts \(ts) window \(window) k \(k)")
        }
    }

    @Test func spansKeepOnlyEachProgramsOwnEvents() {
        let state = SpanMaxAggregate.State()
        state.add(1, 10, 99)  // before the spans are known: dropped by add (the aggregate keeps these in `early`)
        #expect(state.maxima.isEmpty)
        state.setSpans(SpanMaxAggregate.parse("[[1,100,200],[2,0,50],[70000,0,10]]"))
        state.add(1, 150, 7)
        state.add(1, 201, 1000)  // after program 1's span
        state.add(1, 100, 9)     // bounds are inclusive
        state.add(2, 40, 3)
        state.add(2, 150, 500)   // inside program 1's span, but it is program 2's event
        state.add(3, 150, 800)   // no loop for program 3
        state.add(70000, 5, 4)   // a large id (kept in the sparse table)
        state.add(70000, 11, 40)
        #expect(state.maxima == [1: 9, 2: 3, 70000: 4])
    }
}
