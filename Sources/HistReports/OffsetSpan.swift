import Foundation
import Synchronization

/// A zone's UTC offset, remembered for the span in which it cannot change: from the instant it was
/// asked for up to the zone's next transition. Reports format times mostly in ascending order, so
/// nearly every lookup falls in the last span and Foundation's zone lookup (the larger part of a
/// formatted time) runs once per transition instead of once per time.
struct OffsetSpan {
    var zone: TimeZone
    /// ms since the epoch: the offset holds for from ..< until.
    var from: Int64
    var until: Int64
    var offset: Int

    private static let last = Mutex<OffsetSpan?>(nil)

    static func offset(_ zone: TimeZone, at ms: Int64) -> Int {
        if let hit = last.withLock({ s -> Int? in
            guard let s, s.from <= ms, ms < s.until, s.zone == zone else { return nil }
            return s.offset
        }) { return hit }
        let date = Date(timeIntervalSince1970: Double(ms) / 1000)
        let offset = zone.secondsFromGMT(for: date)
        // The span ends at the next transition, rounded down to a whole ms (no instant of the next
        // offset is inside it); a zone without transitions keeps its offset for good.
        var until = Int64.max
        if let next = zone.nextDaylightSavingTimeTransition(after: date) {
            let t = (next.timeIntervalSince1970 * 1000).rounded(.down)
            until = t < 9.2e18 ? Int64(t) : Int64.max
        }
        if until > ms {
            last.withLock { $0 = OffsetSpan(zone: zone, from: ms, until: until, offset: offset) }
        }
        return offset
    }
}
