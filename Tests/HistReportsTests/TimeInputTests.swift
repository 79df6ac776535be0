import Foundation
import HistModel
import Testing
@testable import HistReports

@Suite struct TimeInputTests {
    let now = Timestamp(milliseconds: 1_795_255_200_000)   // 2026-11-21T10:00:00Z
    let utc = TimeZone(identifier: "UTC")!
    let paris = TimeZone(identifier: "Europe/Paris")!       // UTC+1 in November
    let newYork = TimeZone(identifier: "America/New_York")!

    @Test func relativeDurations() throws {
        #expect(try TimeInput.parse("30s", now: now, zone: utc).milliseconds == now.milliseconds - 30_000)
        #expect(try TimeInput.parse("15m", now: now, zone: utc).milliseconds == now.milliseconds - 900_000)
        #expect(try TimeInput.parse("1h", now: now, zone: utc).milliseconds == now.milliseconds - 3_600_000)
        #expect(try TimeInput.parse("1d", now: now, zone: utc).milliseconds == now.milliseconds - 86_400_000)
        #expect(try TimeInput.parse("2w", now: now, zone: utc).milliseconds == now.milliseconds - 14 * 86_400_000)
    }

    @Test func absoluteUTCAndOffsets() throws {
        #expect(try TimeInput.parse("2026-11-21T10:00:00Z", now: now, zone: paris) == now)
        #expect(try TimeInput.parse("2026-11-21T10:00:00.123Z", now: now, zone: paris).milliseconds == now.milliseconds + 123)
        #expect(try TimeInput.parse("2026-11-21T11:00:00+01:00", now: now, zone: utc) == now)
        #expect(try TimeInput.parse("2026-11-21T05:00:00-05:00", now: now, zone: utc) == now)
        #expect(try TimeInput.parse("2026-11-21 10:00Z", now: now, zone: paris) == now)
    }

    @Test func localTimesUseTheGivenZone() throws {
        #expect(try TimeInput.parse("2026-11-21 10:00", now: now, zone: utc) == now)
        #expect(try TimeInput.parse("2026-11-21 11:00", now: now, zone: paris) == now)
        #expect(try TimeInput.parse("2026-11-21 05:00:00", now: now, zone: newYork) == now)
        // A date alone is local midnight.
        #expect(try TimeInput.parse("2026-11-21", now: now, zone: utc).milliseconds == now.milliseconds - 10 * 3_600_000)
        #expect(try TimeInput.parse("2026-11-21", now: now, zone: paris).milliseconds == now.milliseconds - 11 * 3_600_000)
        // Summer time: Paris is UTC+2 in July.
        #expect(try TimeInput.parse("2026-07-01 12:00", now: now, zone: paris) == TimeInput.parse("2026-07-01T10:00:00Z", now: now, zone: utc))
    }

    @Test(arguments: ["yesterday", "", "1x", "-5m", "2026-13-01", "2026-02-30", "2026-11-21T25:00", "2026-11-21T10:00:00+1", "10:00", "2026/11/21"])
    func badInputNamesTheAcceptedForms(_ input: String) {
        do {
            _ = try TimeInput.parse(input, option: "--since", now: now, zone: utc)
            Issue.record("accepted \(input)")
        } catch {
            #expect(error.description.contains("--since"))
            #expect(error.description.contains("\"30s\""))
            #expect(error.description.contains("2026-11-21T10:00:00Z"))
            #expect(error.description.contains("local midnight"))
        }
    }

    @Test func formattingRespectsZone() {
        #expect(TimeText.iso(Timestamp(milliseconds: now.milliseconds + 123)) == "2026-11-21T10:00:00.123Z")
        #expect(TimeText.local(now, in: utc) == "2026-11-21 10:00:00 +00:00")
        #expect(TimeText.local(now, in: paris) == "2026-11-21 11:00:00 +01:00")
        #expect(TimeText.local(now, in: newYork) == "2026-11-21 05:00:00 -05:00")
        #expect(TimeText.iso(Timestamp(milliseconds: 0)) == "1970-01-01T00:00:00.000Z")
        #expect(TimeText.iso(Timestamp(milliseconds: -1)) == "1969-12-31T23:59:59.999Z")
        #expect(TimeText.zone(environment: ["TZ": "Asia/Kolkata"]).identifier == "Asia/Kolkata")
        #expect(TimeText.zone(environment: ["TZ": ":UTC"]).secondsFromGMT() == 0)
    }
}
