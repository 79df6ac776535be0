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

    /// Every relative form, as a table: input, expected offset from now (ms), zone.
    @Test(arguments: [
        ("now", 0), ("NOW", 0), ("-1h", -3_600_000), ("+1h", 3_600_000), ("1h30m", -5_400_000),
        ("1h 30m", -5_400_000), ("2 hours ago", -7_200_000), ("1 hour ago", -3_600_000),
        ("90 minutes ago", -5_400_000), ("1h30m ago", -5_400_000), ("1 day, 2 hours ago", -93_600_000),
        ("3 weeks ago", -1_814_400_000), ("250ms", -250), ("1.5h", -5_400_000), ("90", -90_000),
        ("@1795255200", 0), ("@1795255140.5", -59_500), ("today", -36_000_000), ("yesterday", -122_400_000),
    ] as [(String, Int64)])
    func relativeForms(_ input: String, _ offset: Int64) throws {
        #expect(try TimeInput.parse(input, now: now, zone: utc).milliseconds == now.milliseconds + offset)
    }

    @Test func todayAndYesterdayAreLocalMidnight() throws {
        // 10:00Z is 11:00 in Paris: today began at 23:00Z the day before.
        #expect(try TimeInput.parse("today", now: now, zone: paris) == TimeInput.parse("2026-11-20T23:00:00Z", now: now, zone: utc))
        #expect(try TimeInput.parse("yesterday", now: now, zone: paris) == TimeInput.parse("2026-11-19T23:00:00Z", now: now, zone: utc))
        // 10:00Z is 05:00 in New York, still the 21st there.
        #expect(try TimeInput.parse("today", now: now, zone: newYork) == TimeInput.parse("2026-11-21T05:00:00Z", now: now, zone: utc))
        // Just after midnight UTC, New York is still on the previous day.
        let early = Timestamp(milliseconds: now.milliseconds - 10 * 3_600_000 + 60_000)   // 00:01Z
        #expect(try TimeInput.parse("today", now: early, zone: newYork) == TimeInput.parse("2026-11-20T05:00:00Z", now: now, zone: utc))
    }

    @Test(arguments: ["the day before", "5 parsecs ago", "@abc", "@", "ago", " ago", "1h30", "h", "--1h", "+-1h", "", "1x", "2026-13-01", "2026-02-30", "2026-11-21T25:00", "2026-11-21T10:00:00+1", "10:00", "2026/11/21"])
    func badInputNamesTheAcceptedForms(_ input: String) {
        do {
            _ = try TimeInput.parse(input, option: "--since", now: now, zone: utc)
            Issue.record("accepted \(input)")
        } catch {
            #expect(error.description.contains("--since"))
            #expect(error.description.contains("\"30s\""))
            #expect(error.description.contains("2026-11-21T10:00:00Z"))
            #expect(error.description.contains("local midnight"))
            for form in ["\"now\"", "\"today\"", "\"yesterday\"", "\"-1h\"", "\"1h30m\"", "\"@1795255200\"", "\"2 hours ago\""] {
                #expect(error.description.contains(form), "\(form)")
            }
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
