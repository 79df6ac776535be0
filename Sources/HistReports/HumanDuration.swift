/// Durations for people in tables: `850ms`, `4.5s`, `1m12s`, `2h5m`, `3d4h` (the two largest units).
/// JSON and CSV keep plain seconds.
public enum HumanDuration {
    public static func format(milliseconds ms: Int64) -> String {
        if ms < 0 { return "-" + format(milliseconds: -ms) }
        if ms < 1000 { return "\(ms)ms" }
        if ms < 60_000 {
            let tenths = (ms + 50) / 100
            return tenths % 10 == 0 ? "\(tenths / 10)s" : "\(tenths / 10).\(tenths % 10)s"
        }
        let total = (ms + 500) / 1000
        let parts: [(Int64, String)] = [(total / 86_400, "d"), (total / 3600 % 24, "h"), (total / 60 % 60, "m"), (total % 60, "s")]
        guard let first = parts.firstIndex(where: { $0.0 > 0 }) else { return "0s" }
        var out = "\(parts[first].0)\(parts[first].1)"
        if first + 1 < parts.count, parts[first + 1].0 > 0 { out += "\(parts[first + 1].0)\(parts[first + 1].1)" }
        return out
    }

    /// Seconds (as a report stores them) for people.
    public static func format(seconds: Double) -> String {
        guard seconds.isFinite else { return "-" }
        return format(milliseconds: Int64((seconds * 1000).rounded()))
    }
}
