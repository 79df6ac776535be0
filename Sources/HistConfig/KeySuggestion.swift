import HistModel

/// "did you mean restart_delay?" for a misspelt key.
public enum KeySuggestion {
    /// The known key closest to `key`, when it is close enough to be a likely typo:
    /// at most 2 edits, and fewer edits than a third of the key's length plus one (so `ab` does not suggest `db`
    /// unless it is nearly that word). Ties go to the first known key.
    public static func closest(to key: String, among known: [String]) -> String? {
        let lowered = key.lowercased()
        var best: (String, Int)?
        for candidate in known {
            let d = distance(Array(lowered.unicodeScalars), Array(candidate.unicodeScalars))
            if d <= 2, d <= candidate.unicodeScalars.count / 3 + 1, best == nil || d < best!.1 { best = (candidate, d) }
        }
        // A cut-short word ("on-fail" for "on-failure") is too many edits away but still obvious.
        if best == nil, lowered.count >= 3, let prefixed = known.first(where: { $0.hasPrefix(lowered) }) { return prefixed }
        // An exact case-insensitive match is distance 0: still worth suggesting ("Command" -> "command").
        return best?.0
    }

    /// " (did you mean X?)" or "".
    public static func hint(for key: String, among known: [String]) -> String {
        closest(to: key, among: known).map { "; did you mean \($0)?" } ?? ""
    }

    /// Levenshtein distance (`EditDistance`). Keys are short; long ones are cut off early because
    /// they cannot be within 2 edits of a short known key anyway.
    static func distance(_ a: [Unicode.Scalar], _ b: [Unicode.Scalar]) -> Int {
        abs(a.count - b.count) > 2 ? 3 : EditDistance.levenshtein(a, b)
    }
}
