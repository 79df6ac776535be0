import Foundation
import Testing
@testable import HistReports

/// The one-pass crash-loop membership of loops.sql (CrashLoopAggregate) against the definition.
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
}
