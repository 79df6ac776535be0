import Foundation
import HistModel

/// Calendar arithmetic on plain integers (proleptic Gregorian, Howard Hinnant's algorithms), so that
/// formatting and parsing never depend on a locale or on Foundation's date formatters.
enum CivilTime {
    /// Days since 1970-01-01 for a civil date.
    static func days(year: Int, month: Int, day: Int) -> Int64 {
        let y = Int64(month <= 2 ? year - 1 : year)
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let m = Int64(month)
        let doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + Int64(day) - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    /// The civil date of a day count since 1970-01-01.
    static func date(days z0: Int64) -> (year: Int, month: Int, day: Int) {
        let z = z0 + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let y = yoe + era * 400
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (Int(m <= 2 ? y + 1 : y), Int(m), Int(d))
    }

    static func daysInMonth(year: Int, month: Int) -> Int {
        switch month {
        case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// Seconds east of UTC in `zone` at `ms`.
    static func offsetSeconds(_ zone: TimeZone, at ms: Int64) -> Int {
        OffsetSpan.offset(zone, at: ms)
    }

    /// Splits milliseconds since the epoch (already shifted to local time) into fields.
    static func fields(_ ms: Int64) -> (year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int, millis: Int) {
        let dayMs: Int64 = 86_400_000
        var days = ms / dayMs
        var rest = ms % dayMs
        if rest < 0 { rest += dayMs; days -= 1 }
        let d = date(days: days)
        return (d.year, d.month, d.day, Int(rest / 3_600_000), Int(rest / 60_000 % 60), Int(rest / 1000 % 60), Int(rest % 1000))
    }
}

/// How times are written in output.
public enum TimeText {
    /// ISO-8601 UTC with milliseconds, for JSON and CSV: `2026-11-21T10:00:00.123Z`.
    public static func iso(_ t: Timestamp) -> String {
        let f = CivilTime.fields(t.milliseconds)
        return "\(pad(f.year, 4))-\(pad(f.month))-\(pad(f.day))T\(pad(f.hour)):\(pad(f.minute)):\(pad(f.second)).\(pad(f.millis, 3))Z"
    }

    /// Local time with its UTC offset, for people: `2026-11-21 11:00:00 +01:00` (without the offset when
    /// a table header carries it).
    public static func local(_ t: Timestamp, in zone: TimeZone, offset withOffset: Bool = true) -> String {
        let offset = CivilTime.offsetSeconds(zone, at: t.milliseconds)
        let f = CivilTime.fields(t.milliseconds + Int64(offset) * 1000)
        // One String from a byte buffer, not one per field (a postmortem formats ~20,000 times).
        guard (0...9999).contains(f.year) else {
            let text = "\(pad(f.year, 4))-\(pad(f.month))-\(pad(f.day)) \(pad(f.hour)):\(pad(f.minute)):\(pad(f.second))"
            return withOffset ? text + " " + Self.offset(offset) : text
        }
        return String(unsafeUninitializedCapacity: 26) { b in
            func two(_ n: Int, _ at: Int) {
                b[at] = UInt8(ascii: "0") + UInt8(n / 10)
                b[at + 1] = UInt8(ascii: "0") + UInt8(n % 10)
            }
            two(f.year / 100, 0); two(f.year % 100, 2)
            b[4] = UInt8(ascii: "-"); two(f.month, 5); b[7] = UInt8(ascii: "-"); two(f.day, 8)
            b[10] = UInt8(ascii: " "); two(f.hour, 11); b[13] = UInt8(ascii: ":"); two(f.minute, 14)
            b[16] = UInt8(ascii: ":"); two(f.second, 17)
            guard withOffset else { return 19 }
            let a = abs(offset)
            b[19] = UInt8(ascii: " "); b[20] = offset < 0 ? UInt8(ascii: "-") : UInt8(ascii: "+")
            // Offsets beyond ±99 h do not exist; the general path writes them if they ever did.
            guard a / 3600 < 100 else { return 19 }
            two(a / 3600, 21); b[23] = UInt8(ascii: ":"); two(a / 60 % 60, 24)
            return 26
        }
    }

    /// A UTC offset in seconds as `+01:00`.
    public static func offset(_ seconds: Int) -> String {
        let a = abs(seconds)
        return (seconds < 0 ? "-" : "+") + "\(pad(a / 3600)):\(pad(a / 60 % 60))"
    }

    /// The zone named by `$TZ` when set and known (a leading ":" is allowed), else the system zone.
    public static func zone(environment: [String: String]) -> TimeZone {
        if var tz = environment["TZ"], !tz.isEmpty {
            if tz.hasPrefix(":") { tz.removeFirst() }
            if tz.hasPrefix("/usr/share/zoneinfo/") { tz.removeFirst("/usr/share/zoneinfo/".count) }
            if let z = TimeZone(identifier: tz) ?? TimeZone(abbreviation: tz) { return z }
            if tz == "UTC0" || tz == "UTC" || tz == "GMT" { return TimeZone(secondsFromGMT: 0)! }
        }
        return TimeZone.current
    }

    static func pad(_ n: Int, _ width: Int = 2) -> String {
        let s = String(n)
        return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
    }
}
