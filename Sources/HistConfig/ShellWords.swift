/// Splits a command string into argv the way a POSIX shell splits words, without running a shell:
/// no variables, globs, pipes or redirections; only blanks, quotes and backslashes matter.
///
/// - Outside quotes, blanks (space, tab, newline) separate words and `\x` is a literal `x`.
/// - Inside `'...'` every character is literal.
/// - Inside `"..."`, `\` escapes only `"`, `\`, `$` and `` ` `` (as in sh); other backslashes stay.
/// - `''` and `""` produce an empty word.
public enum ShellWords {
    /// Why a string could not be split.
    public struct SplitError: Error, Equatable, Sendable, CustomStringConvertible {
        public var description: String
    }

    public static func split(_ text: String) throws(SplitError) -> [String] {
        var words: [String] = []
        var current = ""
        var inWord = false
        var iterator = text.makeIterator()

        while let c = iterator.next() {
            switch c {
            case " ", "\t", "\n", "\r", "\r\n":
                if inWord { words.append(current); current = ""; inWord = false }
            case "'":
                inWord = true
                var closed = false
                while let d = iterator.next() {
                    if d == "'" { closed = true; break }
                    current.append(d)
                }
                guard closed else { throw SplitError(description: "unbalanced single quote (') in command") }
            case "\"":
                inWord = true
                var closed = false
                while let d = iterator.next() {
                    if d == "\"" { closed = true; break }
                    if d == "\\" {
                        guard let e = iterator.next() else { break }
                        if e == "\"" || e == "\\" || e == "$" || e == "`" { current.append(e) }
                        else if e == "\n" { continue }  // line continuation
                        else { current.append("\\"); current.append(e) }
                    } else {
                        current.append(d)
                    }
                }
                guard closed else { throw SplitError(description: "unbalanced double quote (\") in command") }
            case "\\":
                guard let e = iterator.next() else {
                    throw SplitError(description: "command ends with a lone backslash (\\)")
                }
                if e == "\n" { continue }  // line continuation
                inWord = true
                current.append(e)
            default:
                inWord = true
                current.append(c)
            }
        }
        if inWord { words.append(current) }
        return words
    }
}
