/// Parses and formats the duration strings used in config files and on the command line:
/// `"250ms"`, `"2s"`, `"5m"`, `"1h"`, `"1d"`, `"2w"`, or a plain number of seconds (`"1.5"`).
/// One parser serves the config (`restart_delay`) and histctl (`--since 1d`).
public enum HistDuration {
    /// The forms a user may write, for error messages.
    public static let acceptedForms = #"a number with a unit: "250ms", "2s", "5m", "1h", "1d", "2w" (or a plain number of seconds)"#

    public struct ParseError: Error, Equatable, CustomStringConvertible, Sendable {
        public var input: String
        public var description: String { "invalid duration \"\(input)\": expected \(HistDuration.acceptedForms)" }
    }

    private static let units: [(suffix: String, milliseconds: Double)] = [
        ("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000), ("d", 86_400_000), ("w", 604_800_000),
    ]

    /// Parses a duration string. Negative, empty, non-finite and unit-less garbage inputs are errors.
    public static func parse(_ text: String) throws(ParseError) -> Duration {
        let s = text.trimmingSpaces()
        guard !s.isEmpty else { throw ParseError(input: text) }
        var number = Substring(s)
        var scale = 1000.0
        // "ms" must be tried before "m" and "s".
        for (suffix, ms) in units where s.hasSuffix(suffix) {
            let candidate = s.dropLast(suffix.count)
            if let last = candidate.last, last.isNumber || last == "." {
                number = candidate
                scale = ms
                break
            }
        }
        guard let value = Double(number.trimmingSpaces()), value.isFinite, value >= 0,
              number.allSatisfy({ $0.isNumber || $0 == "." || $0 == " " })
        else { throw ParseError(input: text) }
        let totalMs = value * scale
        guard totalMs < 1e15 else { throw ParseError(input: text) }
        return .nanoseconds(Int64((totalMs * 1_000_000).rounded()))
    }

    /// Seconds given as a plain TOML number.
    public static func fromSeconds(_ seconds: Double) throws(ParseError) -> Duration {
        guard seconds.isFinite, seconds >= 0, seconds < 1e12 else { throw ParseError(input: "\(seconds)") }
        return .nanoseconds(Int64((seconds * 1e9).rounded()))
    }

    /// Short human form: "250ms", "2s", "1.5s", "5m", "1h30m", "2d".
    public static func format(_ d: Duration) -> String {
        let ms = d.milliseconds
        if ms < 1000 { return "\(ms)ms" }
        if ms < 60_000 {
            return ms % 1000 == 0 ? "\(ms / 1000)s" : "\(Double(ms) / 1000)s"
        }
        let totalS = ms / 1000
        let d = totalS / 86400, h = (totalS % 86400) / 3600, m = (totalS % 3600) / 60, s = totalS % 60
        var out = ""
        if d > 0 { out += "\(d)d" }
        if h > 0 { out += "\(h)h" }
        if m > 0 { out += "\(m)m" }
        if s > 0 { out += "\(s)s" }
        return out
    }
}

extension StringProtocol {
    func trimmingSpaces() -> Substring {
        var sub = Substring(self)
        while let f = sub.first, f.isWhitespace { sub.removeFirst() }
        while let l = sub.last, l.isWhitespace { sub.removeLast() }
        return sub
    }
}
