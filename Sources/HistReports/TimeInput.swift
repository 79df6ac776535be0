import Foundation
import HistModel

/// Parses the `--since`/`--until`/`--at` values: `now`, `today`/`yesterday` (local midnight), a duration
/// ago (`30s`, `15m`, `1h30m`, `-1h`, `"2 hours ago"`; `+1h` is ahead), `@EPOCH` seconds, or an absolute
/// time (`2026-11-21T10:00:00Z`, `2026-11-21T10:00:00+01:00`, `2026-11-21 10:00` in local time,
/// `2026-11-21` for local midnight). The time zone and "now" are parameters so tests are exact.
public enum TimeInput {
    /// The accepted forms, for error messages and `--help`.
    public static let acceptedForms = """
        "now"; "today" or "yesterday" (local midnight); a duration ago ("30s", "15m", "1h", "1h30m", "1d", "2w", \
        "-1h", "2 hours ago"; "+1h" is ahead of now); "@1795255200" (seconds since the epoch); or a time \
        ("2026-11-21T10:00:00Z", "2026-11-21T10:00:00+01:00", "2026-11-21 10:00" in local time, or "2026-11-21" \
        for local midnight)
        """

    public struct ParseError: Error, Hashable, Sendable, CustomStringConvertible {
        public var option: String
        public var input: String
        public var reason: String?
        public var description: String {
            "invalid time \"\(input)\" for \(option)\(reason.map { " (\($0))" } ?? ""): expected \(TimeInput.acceptedForms)"
        }
    }

    /// A duration option value: compound forms ("1h30m", "9m30s", "2 hours") as well as HistDuration's.
    public static func duration(_ text: String) -> Duration? {
        if let d = try? HistDuration.parse(text) { return d }
        return RelativeTime.duration(Substring(text.trimmingCharacters(in: .whitespaces).lowercased())).map { .milliseconds($0) }
    }

    /// Parses `text` for `option` (used only in the error message).
    public static func parse(_ text: String, option: String = "--since", now: Timestamp, zone: TimeZone) throws(ParseError) -> Timestamp {
        let s = text.trimmingCharacters(in: .whitespaces)
        func fail(_ reason: String? = nil) -> ParseError { ParseError(option: option, input: text, reason: reason) }
        guard !s.isEmpty else { throw fail() }
        if let t = RelativeTime.parse(s, now: now, zone: zone) { return t }
        if s.first!.isNumber, !s.contains("-"), !s.contains(":") {
            // A plain number of seconds ago ("90"), as before the compound forms.
            guard let d = try? HistDuration.parse(s) else { throw fail() }
            return Timestamp(milliseconds: now.milliseconds - d.milliseconds)
        }
        guard let t = absolute(Array(s.utf8), zone: zone, fail: fail) else { throw fail() }
        switch t {
        case .success(let ts): return ts
        case .failure(let e): throw e
        }
    }

    /// Returns nil when the shape is wrong, `.failure` when a field is out of range.
    private static func absolute(_ b: [UInt8], zone: TimeZone, fail: (String?) -> ParseError) -> Result<Timestamp, ParseError>? {
        var i = 0
        func number(_ width: Int) -> Int? {
            guard i + width <= b.count else { return nil }
            var n = 0
            for k in i..<(i + width) {
                guard b[k] >= 48, b[k] <= 57 else { return nil }
                n = n * 10 + Int(b[k] - 48)
            }
            i += width
            return n
        }
        func expect(_ c: Character) -> Bool {
            guard i < b.count, b[i] == c.asciiValue! else { return false }
            i += 1
            return true
        }
        guard let year = number(4), expect("-"), let month = number(2), expect("-"), let day = number(2) else { return nil }
        guard (1...12).contains(month) else { return .failure(fail("month \(month) is out of range")) }
        guard (1...CivilTime.daysInMonth(year: year, month: month)).contains(day) else {
            return .failure(fail("day \(day) does not exist in \(year)-\(TimeText.pad(month))"))
        }
        var hour = 0, minute = 0, second = 0, millis = 0
        var offset: Int? = nil   // seconds east of UTC; nil = local time
        if i < b.count {
            guard expect("T") || expect(" ") else { return nil }
            guard let h = number(2), expect(":"), let m = number(2) else { return nil }
            hour = h; minute = m
            if expect(":") {
                guard let sec = number(2) else { return nil }
                second = sec
                if expect(".") {
                    let start = i
                    var frac = 0, digits = 0
                    while i < b.count, b[i] >= 48, b[i] <= 57 {
                        if digits < 3 { frac = frac * 10 + Int(b[i] - 48); digits += 1 }
                        i += 1
                    }
                    guard i > start else { return nil }
                    while digits < 3 { frac *= 10; digits += 1 }
                    millis = frac
                }
            }
            guard hour < 24, minute < 60, second < 60 else { return .failure(fail("time of day is out of range")) }
            if expect("Z") || expect("z") {
                offset = 0
            } else if i < b.count, b[i] == 43 || b[i] == 45 {   // + or -
                let sign = b[i] == 45 ? -1 : 1
                i += 1
                guard let oh = number(2) else { return nil }
                _ = expect(":")
                guard let om = number(2), oh < 24, om < 60 else { return nil }
                offset = sign * (oh * 3600 + om * 60)
            }
            guard i == b.count else { return nil }
        }
        let localMs = CivilTime.days(year: year, month: month, day: day) * 86_400_000
            + Int64(hour * 3_600_000 + minute * 60_000 + second * 1000 + millis)
        if let offset { return .success(Timestamp(milliseconds: localMs - Int64(offset) * 1000)) }
        return .success(fromLocal(localMs, zone: zone))
    }

    /// A wall-clock time in `zone` (ms since the epoch as if the zone were UTC) as a Timestamp: the offset
    /// in force at that wall-clock time (two steps settle DST changes).
    static func fromLocal(_ localMs: Int64, zone: TimeZone) -> Timestamp {
        let first = CivilTime.offsetSeconds(zone, at: localMs)
        let second = CivilTime.offsetSeconds(zone, at: localMs - Int64(first) * 1000)
        return Timestamp(milliseconds: localMs - Int64(second) * 1000)
    }
}
