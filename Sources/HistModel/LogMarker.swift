/// The line histd writes into a unit's NAME.out and NAME.err when an instance starts:
/// `### histd: start NAME pid=PID instance=ID 2026-12-01T19:55:16.123Z`. `histctl logs` splits the
/// files into instances at these lines. Stable: it is part of the log format (docs/HISTCTL.md).
public enum LogMarker {
    public static let prefix = "### histd: start "

    public static func startLine(unit: String, pid: Int32, instance: UInt64, time: Timestamp) -> String {
        "\(prefix)\(unit) pid=\(pid) instance=\(instance) \(isoUTC(milliseconds: time.milliseconds))"
    }

    /// A parsed start marker.
    public struct Start: Hashable, Sendable {
        public var unit: String
        public var pid: Int32
        public var time: String
    }

    /// The marker in `line`, if it is one (with or without a timestamp before it).
    public static func parse(_ line: Substring) -> Start? {
        guard line.hasPrefix(prefix) else { return nil }
        // NAME may contain spaces: the three fields after it are read from the end.
        let fields = line.dropFirst(prefix.count).split(separator: " ", omittingEmptySubsequences: false)
        guard fields.count >= 4 else { return nil }
        let pidField = fields[fields.count - 3], instanceField = fields[fields.count - 2]
        guard pidField.hasPrefix("pid="), let pid = Int32(pidField.dropFirst(4)), instanceField.hasPrefix("instance=") else { return nil }
        return Start(unit: fields[..<(fields.count - 3)].joined(separator: " "), pid: pid, time: String(fields[fields.count - 1]))
    }

    /// `YYYY-MM-DDTHH:MM:SS.mmmZ` for ms since the epoch (UTC; proleptic Gregorian).
    public static func isoUTC(milliseconds ms: Int64) -> String {
        let secs = ms >= 0 ? ms / 1000 : (ms - 999) / 1000
        let millis = Int(ms - secs * 1000)
        var days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400
        let rem = Int(secs - days * 86400)
        // Civil from days (Howard Hinnant's algorithm).
        days += 719_468
        let era = (days >= 0 ? days : days - 146_096) / 146_097
        let doe = days - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = Int(doy - (153 * mp + 2) / 5 + 1)
        let month = Int(mp < 10 ? mp + 3 : mp - 9)
        let year = Int(yoe + era * 400) + (month <= 2 ? 1 : 0)
        return iso(year: year, month: month, day: day, hour: rem / 3600, minute: rem / 60 % 60, second: rem % 60, millis: millis)
    }

    public static func iso(year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int, millis: Int) -> String {
        func pad(_ v: Int, _ w: Int) -> String {
            let s = String(v)
            return String(repeating: "0", count: max(0, w - s.count)) + s
        }
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))T\(pad(hour, 2)):\(pad(minute, 2)):\(pad(second, 2)).\(pad(millis, 3))Z"
    }
}

extension LogMarker {
    /// Whether `line` starts with a log timestamp (`YYYY-MM-DDTHH:MM:SS.mmmZ `).
    public static func hasTimestamp(_ line: Substring) -> Bool {
        let u = line.utf8
        guard u.count >= 25 else { return false }
        let i = u.startIndex
        func at(_ k: Int) -> UInt8 { u[u.index(i, offsetBy: k)] }
        return at(4) == 45 && at(7) == 45 && at(10) == 84 && at(13) == 58 && at(16) == 58 && at(19) == 46
            && at(23) == 90 && at(24) == 32
    }

    /// A log file's text as the program wrote it: start markers removed, timestamps cut off.
    public static func programText(_ text: String) -> String {
        var out = ""
        for line in text.split(separator: "\n", omittingEmptySubsequences: false).dropLast(text.hasSuffix("\n") ? 1 : 0) {
            if parse(line) != nil { continue }
            out += hasTimestamp(line) ? String(line.dropFirst(25)) : String(line)
            out += "\n"
        }
        if !text.hasSuffix("\n"), out.hasSuffix("\n") { out.removeLast() }
        return out
    }
}
