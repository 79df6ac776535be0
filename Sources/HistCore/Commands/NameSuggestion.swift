/// "Did you mean": the known name closest to a mistyped one, by edit distance.
public enum NameSuggestion {
    /// The closest of `candidates` to `name` when it is within half the name's length
    /// (at least 1, at most 3 edits); nil when nothing is that close.
    public static func closest(to name: String, in candidates: [String]) -> String? {
        let limit = min(3, max(1, (name.count + 1) / 2))
        var best: (String, Int)?
        for c in candidates.sorted() {
            let d = distance(Array(name.utf8), Array(c.utf8))
            if d <= limit, best == nil || d < best!.1 { best = (c, d) }
        }
        return best?.0
    }

    /// Levenshtein distance over bytes.
    static func distance(_ a: [UInt8], _ b: [UInt8]) -> Int {
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            swap(&previous, &current)
        }
        return previous[b.count]
    }
}
