/// Sizes in config files: `"10M"`, `"4K"`, `"1.5G"`, `"512"` or a plain TOML integer of bytes.
/// Units are binary (1K = 1024 bytes) because that is what cgroup files and `ls -h` mean.
public enum ByteSize {
    public static let acceptedForms = #"a size such as "4096", "4K", "10M", "1.5G", "1T" (K/M/G/T = 1024-based; an optional trailing "B" or "iB" is fine) or an integer number of bytes"#

    private static let units: [(Character, Double)] = [("K", 1024), ("M", 1_048_576), ("G", 1_073_741_824), ("T", 1_099_511_627_776)]

    /// Bytes, or nil when the text is not a size (or is negative, non-finite, or beyond 2^62).
    public static func parse(_ text: String) -> Int64? {
        var s = text.trimmingCharacters()
        if s.uppercased().hasSuffix("IB") { s = String(s.dropLast(2)) }
        else if s.uppercased().hasSuffix("B") { s = String(s.dropLast()) }
        var scale = 1.0
        if let last = s.last, let unit = units.first(where: { $0.0 == Character(last.uppercased()) }) {
            scale = unit.1
            s = String(s.dropLast())
        }
        s = s.trimmingCharacters()
        guard !s.isEmpty, s.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }),
              let v = Double(s), v.isFinite, v >= 0
        else { return nil }
        let bytes = (v * scale).rounded()
        guard bytes < 4.6e18 else { return nil }
        return Int64(bytes)
    }
}

/// Percentages: `"50%"`, `"50"` or a plain TOML number (50 = half of one CPU).
enum Percent {
    static let acceptedForms = #"a percentage such as "50%" or a plain number (50 = half of one core, 200 = two cores)"#

    static func parse(_ text: String) -> Double? {
        var s = text.trimmingCharacters()
        if s.hasSuffix("%") { s = String(s.dropLast()).trimmingCharacters() }
        guard !s.isEmpty, s.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }),
              let v = Double(s), v.isFinite
        else { return nil }
        return v
    }
}

extension String {
    /// Without leading and trailing whitespace (no Foundation needed).
    func trimmingCharacters() -> String {
        var sub = Substring(self)
        while let f = sub.first, f.isWhitespace { sub.removeFirst() }
        while let l = sub.last, l.isWhitespace { sub.removeLast() }
        return String(sub)
    }
}
