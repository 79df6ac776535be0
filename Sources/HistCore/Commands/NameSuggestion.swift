import HistModel

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

    /// Levenshtein distance over bytes (`EditDistance`).
    static func distance(_ a: [UInt8], _ b: [UInt8]) -> Int { EditDistance.levenshtein(a, b) }
}
