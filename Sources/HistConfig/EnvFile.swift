/// systemd's EnvironmentFile syntax (systemd.exec(5)), as `env_file` reads it:
/// `KEY=VALUE` lines; blank lines and lines starting with `#` or `;` are comments; whitespace around the
/// key and before the value is dropped; a value may be 'single-quoted' (literal) or "double-quoted"
/// (where \" \\ \$ \` and a backslash-newline are escapes); a backslash at the end of an unquoted line
/// continues the value on the next line. A line `export KEY=VALUE` is accepted too, so a shell file works.
enum EnvFile {
    struct Problem: Error, Equatable { var line: Int; var message: String }

    /// The variables in file order (a later assignment of the same key wins), or the first problem.
    static func parse(_ text: String) -> Result<[(key: String, value: String)], Problem> {
        var out: [(key: String, value: String)] = []
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { String($0.hasSuffix("\r") ? $0.dropLast() : $0[...]) }
        var i = 0
        while i < lines.count {
            let lineNumber = i + 1
            var line = Substring(lines[i])
            i += 1
            line = line.drop(while: { $0 == " " || $0 == "\t" })
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("export "), line.contains("=") { line = line.dropFirst(7).drop(while: { $0 == " " || $0 == "\t" }) }
            guard let eq = line.firstIndex(of: "=") else {
                return .failure(Problem(line: lineNumber, message: "expected KEY=VALUE, got \(QuotedText.show(line))"))
            }
            let key = String(line[..<eq]).trimmingTrailingBlanks()
            guard isName(key) else {
                return .failure(Problem(line: lineNumber, message: "\(QuotedText.show(Substring(key))) is not a variable name (letters, digits and _, not starting with a digit)"))
            }
            var rest = line[line.index(after: eq)...].drop(while: { $0 == " " || $0 == "\t" })
            var value = ""
            var quote: Character? = nil
            // Scans the value, pulling in following lines while a quote is open or a line ends in "\".
            scan: while true {
                var chars = rest.makeIterator()
                var trailingBlanks = 0
                var escapedNewline = false
                while let c = chars.next() {
                    switch (quote, c) {
                    case (nil, "'"), (nil, "\""): quote = c
                    case ("'", "'"), ("\"", "\""): quote = nil; trailingBlanks = 0
                    case ("\"", "\\"):
                        guard let n = chars.next() else { escapedNewline = true; break }
                        if ["\"", "\\", "$", "`"].contains(n) { value.append(n) } else { value.append("\\"); value.append(n) }
                    case (nil, "\\"):
                        guard let n = chars.next() else {
                            // Line continuation.
                            guard i < lines.count else { break scan }
                            rest = Substring(lines[i]); i += 1
                            continue scan
                        }
                        value.append(n); trailingBlanks = 0
                    case (nil, " "), (nil, "\t"):
                        value.append(c); trailingBlanks += 1
                    default:
                        value.append(c)
                        if quote == nil { trailingBlanks = 0 }
                    }
                }
                if quote != nil {
                    guard i < lines.count else {
                        return .failure(Problem(line: lineNumber, message: "unterminated \(quote == "'" ? "single" : "double") quote in the value of \(key)"))
                    }
                    if !escapedNewline { value += "\n" }
                    rest = Substring(lines[i]); i += 1
                    continue scan
                }
                if trailingBlanks > 0 { value.removeLast(trailingBlanks) }
                break
            }
            if value.unicodeScalars.contains("\0") {
                return .failure(Problem(line: lineNumber, message: "the value of \(key) contains a NUL character"))
            }
            out.append((key, value))
        }
        return .success(out)
    }

    static func isName(_ s: String) -> Bool {
        guard let first = s.unicodeScalars.first, !(first >= "0" && first <= "9") else { return false }
        return s.unicodeScalars.allSatisfy { ($0 >= "a" && $0 <= "z") || ($0 >= "A" && $0 <= "Z") || ($0 >= "0" && $0 <= "9") || $0 == "_" }
    }
}

/// Short quoted excerpts of input for messages.
enum QuotedText {
    static func show(_ s: Substring) -> String {
        let cut = s.count > 40 ? String(s.prefix(40)) + "..." : String(s)
        return "\"\(cut)\""
    }
}

extension String {
    func trimmingTrailingBlanks() -> String {
        var s = Substring(self)
        while let last = s.last, last == " " || last == "\t" { s = s.dropLast() }
        return String(s)
    }
}
