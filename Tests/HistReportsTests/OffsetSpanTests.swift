import Foundation
import HistModel
import Testing
@testable import HistReports

/// TimeText.local remembers a zone's offset until the zone's next transition (OffsetSpan): every time
/// it formats must still be the one Foundation's zone gives, around DST changes and in any order.
@Suite struct OffsetSpanTests {
    /// The formatting as it was before the cache: the offset asked for each time.
    static func direct(_ ms: Int64, _ zone: TimeZone) -> String {
        let offset = zone.secondsFromGMT(for: Date(timeIntervalSince1970: Double(ms) / 1000))
        let f = CivilTime.fields(ms + Int64(offset) * 1000)
        func pad(_ n: Int, _ w: Int = 2) -> String { String(repeating: "0", count: max(0, w - String(n).count)) + String(n) }
        let a = abs(offset)
        return "\(pad(f.year, 4))-\(pad(f.month))-\(pad(f.day)) \(pad(f.hour)):\(pad(f.minute)):\(pad(f.second)) "
            + (offset < 0 ? "-" : "+") + "\(pad(a / 3600)):\(pad(a / 60 % 60))"
    }

    @Test(arguments: ["Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kathmandu", "UTC", "America/Santiago"])
    func cachedOffsetsAreTheZonesOwn(zoneName: String) throws {
        let zone = try #require(TimeZone(identifier: zoneName))
        var rng = SeededGenerator(seed: 7)
        // Around the 2026 DST changes of both hemispheres (March/April, October/November), minute by
        // minute ascending, then the same instants in random order, then random instants of a century.
        var times: [Int64] = []
        for start: Int64 in [1_774_745_000_000, 1_775_340_000_000, 1_792_890_000_000, 1_793_500_000_000, 1_759_600_000_000] {
            for k in 0..<400 { times.append(start + Int64(k) * 60_000 + Int64(k % 7) * 1001) }
        }
        let shuffled = times.shuffled(using: &rng)
        let wide = (0..<500).map { _ in Int64.random(in: -1_000_000_000_000...4_000_000_000_000, using: &rng) }
        for ms in times + shuffled + wide {
            #expect(TimeText.local(Timestamp(milliseconds: ms), in: zone) == Self.direct(ms, zone), "\(zoneName) at \(ms)")
        }
        // Without the offset: the same clock text.
        #expect(TimeText.local(Timestamp(milliseconds: times[0]), in: zone, offset: false) == String(Self.direct(times[0], zone).prefix(19)))
    }
}
