import Foundation
import HistModel

/// The relative forms of TimeInput, as journalctl and date(1) users type them: `now`, `today`,
/// `yesterday`, `@EPOCH`, a (compound) duration ago (`1h30m`, `-1h`, `2 hours ago`, `1h30m ago`), and
/// `+1h` ahead of now. Returns nil for anything else (TimeInput then tries the absolute forms).
enum RelativeTime {
    static func parse(_ text: String, now: Timestamp, zone: TimeZone) -> Timestamp? {
        let s = text.lowercased()
        switch s {
        case "now": return now
        case "today": return midnight(daysBack: 0, now: now, zone: zone)
        case "yesterday": return midnight(daysBack: 1, now: now, zone: zone)
        default: break
        }
        if s.hasPrefix("@") {
            guard let seconds = Double(s.dropFirst()), seconds.isFinite, abs(seconds) < 1e13,
                  s.dropFirst().allSatisfy({ $0.isNumber || $0 == "." || $0 == "-" }) else { return nil }
            return Timestamp(milliseconds: Int64((seconds * 1000).rounded()))
        }
        var body = Substring(s)
        var sign: Int64 = -1          // a bare duration means "ago"
        if body.hasSuffix(" ago") {
            body = body.dropLast(4)
        } else if body.first == "-" {
            body = body.dropFirst()
        } else if body.first == "+" {
            body = body.dropFirst()
            sign = 1
        }
        guard let ms = duration(body) else { return nil }
        return Timestamp(milliseconds: now.milliseconds + sign * ms)
    }

    /// Local midnight `daysBack` days before today in `zone`.
    static func midnight(daysBack: Int64, now: Timestamp, zone: TimeZone) -> Timestamp {
        let offset = Int64(CivilTime.offsetSeconds(zone, at: now.milliseconds)) * 1000
        let localDay = Int64((Double(now.milliseconds + offset) / 86_400_000).rounded(.down))
        return TimeInput.fromLocal((localDay - daysBack) * 86_400_000, zone: zone)
    }

    static let unitWords: [(words: [String], ms: Double)] = [
        (["ms", "msec", "msecs", "millisecond", "milliseconds"], 1),
        (["s", "sec", "secs", "second", "seconds"], 1000),
        (["m", "min", "mins", "minute", "minutes"], 60_000),
        (["h", "hr", "hrs", "hour", "hours"], 3_600_000),
        (["d", "day", "days"], 86_400_000),
        (["w", "week", "weeks"], 604_800_000),
    ]

    /// "1h30m", "90s", "1.5h", "2 hours", "1 hour 30 minutes": a sum of number-unit pairs, every number
    /// with a unit (a bare number is not a time: it could as well be seconds or an epoch), spaces optional.
    static func duration(_ text: Substring) -> Int64? {
        let chars = Array(text)
        var i = 0
        var total = 0.0
        var pairs = 0
        func skipSpaces() { while i < chars.count, chars[i] == " " { i += 1 } }
        skipSpaces()
        while i < chars.count {
            let start = i
            while i < chars.count, chars[i].isASCII, chars[i].isNumber || chars[i] == "." { i += 1 }
            guard i > start, let value = Double(String(chars[start..<i])), value.isFinite else { return nil }
            skipSpaces()
            let unitStart = i
            while i < chars.count, chars[i].isASCII, chars[i].isLetter { i += 1 }
            let unit = String(chars[unitStart..<i])
            guard let scale = unitWords.first(where: { $0.words.contains(unit) })?.ms else { return nil }
            total += value * scale
            pairs += 1
            skipSpaces()
            if i < chars.count, chars[i] == "," { i += 1; skipSpaces() }
        }
        guard pairs > 0, total < 1e15 else { return nil }
        return Int64(total.rounded())
    }
}
