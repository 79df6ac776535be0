/// Line numbers of the tables and keys of a TOML document.
///
/// Why this exists: TOMLKit (toml++) gives keys and values no source positions, and iterates tables in
/// alphabetical order. Every config problem must still read `FILE:LINE: KEY: message`, and programs must
/// keep file order, so this small scanner walks the raw text once and records where each `[table]`
/// header, `[[array]]` header and `key =` line (dotted and quoted keys, keys inside inline tables)
/// appears. It skips over values, including multi-line strings and multi-line arrays.
///
/// It only runs on text that TOMLKit already accepted, so it need not diagnose anything; it is still
/// written to never trap on odd input (every index is bounds-checked).
struct KeyPositions {
    /// Line (1-based) where each full key path first appears.
    private(set) var exact: [[String]: Int] = [:]
    /// Smallest line of any key path that starts with this prefix (tables defined implicitly by dotted keys).
    private(set) var firstLine: [[String]: Int] = [:]
    /// Lines whose basic strings (or quoted keys) contain an escaped NUL (`\u0000`), with the key path there.
    /// toml++ hands strings to Swift as C strings, so a NUL would silently cut them short: we refuse them.
    private(set) var nulEscapes: [(line: Int, path: [String])] = []
    /// The first spot toml++ 3.4 would *assert* on instead of reporting a syntax error (an abort in debug
    /// builds, undefined behaviour otherwise), found by fuzzing: a table header whose name starts with a
    /// character that cannot start a key (`[{x]`), or a scalar that is no TOML value but looks enough like one
    /// to reach a specialised parser (`1979-05-27Tx7:32`). The loader never hands such text to toml++.
    /// `statementOffset` is the byte offset where the enclosing statement starts, so the text before it
    /// can still be parsed for an earlier, ordinary error.
    private(set) var unsafe: UnsafeSpot?

    struct UnsafeSpot {
        var line: Int
        var column: Int
        var statementOffset: Int
        var message: String
    }

    init(text: String) {
        var scanner = Scanner(bytes: Array(text.utf8))
        scanner.run()
        exact = scanner.exact
        firstLine = scanner.firstLine
        nulEscapes = scanner.nulEscapes
        unsafe = scanner.unsafe
    }

    /// The line of `path`, or of its nearest enclosing table when the path itself was not seen.
    func line(of path: [String]) -> Int? {
        var p = path
        while !p.isEmpty {
            if let l = exact[p] ?? firstLine[p] { return l }
            p.removeLast()
        }
        return nil
    }
}

private struct Scanner {
    let bytes: [UInt8]
    var i = 0
    var line = 1
    var table: [String] = []
    var exact: [[String]: Int] = [:]
    var firstLine: [[String]: Int] = [:]
    var nulEscapes: [(line: Int, path: [String])] = []
    var unsafe: KeyPositions.UnsafeSpot?
    var lineStart = 0
    var statementStart = 0
    /// Arrays and inline tables we are inside of (skipValue recurses once per level).
    var depth = 0
    /// toml++ refuses values nested deeper than this (TOML_MAX_NESTED_VALUES); we stop scanning
    /// there rather than recurse on, which overflowed the stack near 2,000 levels.
    static let maxDepth = 256

    init(bytes: [UInt8]) { self.bytes = bytes }

    // ASCII bytes used below.
    static let newline = UInt8(ascii: "\n"), hash = UInt8(ascii: "#"), quote = UInt8(ascii: "\"")
    static let apostrophe = UInt8(ascii: "'"), backslash = UInt8(ascii: "\\"), equals = UInt8(ascii: "=")
    static let openBracket = UInt8(ascii: "["), closeBracket = UInt8(ascii: "]"), dot = UInt8(ascii: ".")
    static let openBrace = UInt8(ascii: "{"), closeBrace = UInt8(ascii: "}"), comma = UInt8(ascii: ",")

    var atEnd: Bool { i >= bytes.count }
    func peek(_ offset: Int = 0) -> UInt8? { i + offset < bytes.count ? bytes[i + offset] : nil }

    mutating func advance() {
        if i < bytes.count, bytes[i] == Self.newline { line += 1; lineStart = i + 1 }
        i += 1
    }

    mutating func record(_ path: [String], at l: Int) {
        if exact[path] == nil { exact[path] = l }
        var p = path
        while !p.isEmpty {
            if let old = firstLine[p], old <= l { break }
            firstLine[p] = l
            p.removeLast()
        }
    }

    /// Spaces and tabs only.
    mutating func skipBlanks() {
        while let b = peek(), b == 0x20 || b == 0x09 || b == 0x0D { advance() }
    }

    /// Blanks, newlines and comments (inside arrays).
    mutating func skipBlanksNewlinesComments() {
        while let b = peek() {
            if b == 0x20 || b == 0x09 || b == 0x0D || b == Self.newline { advance() }
            else if b == Self.hash { skipToEndOfLine() }
            else { break }
        }
    }

    mutating func skipToEndOfLine() {
        while let b = peek(), b != Self.newline { advance() }
    }

    mutating func run() {
        while !atEnd {
            let before = i
            skipBlanks()
            guard let b = peek() else { break }
            if b == Self.newline { advance(); continue }
            if b == Self.hash { skipToEndOfLine(); continue }
            statementStart = lineStart
            if b == Self.openBracket {
                let headerLine = line
                advance()
                let isArray = peek() == Self.openBracket
                if isArray { advance() }
                skipBlanks()
                if let c = peek(), !(isBareKeyByte(c) || c == Self.quote || c == Self.apostrophe || c == Self.closeBracket) {
                    flagUnsafe("expected a table name after '[' (a bare key or a quoted \"name\")")
                }
                let path = keyPath()
                table = path
                record(path, at: headerLine)
                skipToEndOfLine()
            } else {
                let keyLine = line
                let path = keyPath(prefix: table)
                record(table + path, at: keyLine)
                skipBlanks()
                if peek() == Self.equals { advance() }
                skipBlanks()
                skipValue(path: table + path, recordKeys: true)
                skipToEndOfLine()
            }
            if i == before { advance() }  // never loop without progress
        }
    }

    /// Quotes, brackets, digits, signs, and the first letters of true/false/inf/nan.
    static func canStartValue(_ c: UInt8) -> Bool {
        (c >= 0x30 && c <= 0x39) || [quote, apostrophe, openBracket, openBrace, UInt8(ascii: "+"), UInt8(ascii: "-"),
                                     UInt8(ascii: "t"), UInt8(ascii: "f"), UInt8(ascii: "i"), UInt8(ascii: "n")].contains(c)
    }

    mutating func flagUnsafe(_ message: String, line l: Int? = nil, column: Int? = nil) {
        guard unsafe == nil else { return }
        unsafe = .init(line: l ?? line, column: column ?? (i - lineStart + 1), statementOffset: statementStart, message: message)
    }

    /// `a.b."c d".'e'` up to (not including) `=` or `]`. A NUL escape inside the key is recorded
    /// under `prefix` + the whole key.
    mutating func keyPath(prefix: [String] = []) -> [String] {
        let nulsBefore = nulEscapes.count
        var parts: [String] = []
        defer {
            for k in nulsBefore..<nulEscapes.count { nulEscapes[k].path = prefix + parts }
        }
        while !atEnd {
            skipBlanks()
            guard let b = peek() else { break }
            if b == Self.quote {
                parts.append(basicString(path: parts))
            } else if b == Self.apostrophe {
                parts.append(literalString())
            } else {
                var raw: [UInt8] = []
                while let c = peek(), isBareKeyByte(c) { raw.append(c); advance() }
                if raw.isEmpty { break }
                parts.append(String(decoding: raw, as: UTF8.self))
            }
            skipBlanks()
            if peek() == Self.dot { advance() } else { break }
        }
        return parts
    }

    func isBareKeyByte(_ c: UInt8) -> Bool {
        (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x2D || c == 0x5F
    }

    /// A single-line `"..."` string, decoded (escapes resolved). Starts at the opening quote.
    mutating func basicString(path: [String]) -> String {
        advance()
        var out: [UInt8] = []
        while let b = peek(), b != Self.quote, b != Self.newline {
            if b == Self.backslash {
                advance()
                decodeEscape(into: &out, path: path)
            } else {
                out.append(b)
                advance()
            }
        }
        if peek() == Self.quote { advance() }
        return String(decoding: out, as: UTF8.self)
    }

    mutating func decodeEscape(into out: inout [UInt8], path: [String]) {
        guard let e = peek() else { return }
        advance()
        switch e {
        case UInt8(ascii: "n"): out.append(0x0A)
        case UInt8(ascii: "t"): out.append(0x09)
        case UInt8(ascii: "r"): out.append(0x0D)
        case UInt8(ascii: "b"): out.append(0x08)
        case UInt8(ascii: "f"): out.append(0x0C)
        case UInt8(ascii: "e"): out.append(0x1B)
        case UInt8(ascii: "u"), UInt8(ascii: "U"):
            let count = e == UInt8(ascii: "u") ? 4 : 8
            var hex = ""
            for _ in 0..<count {
                guard let h = peek() else { break }
                hex.append(Character(Unicode.Scalar(h)))
                advance()
            }
            if let v = UInt32(hex, radix: 16), let scalar = Unicode.Scalar(v) {
                if v == 0 { nulEscapes.append((line, path)) }
                out.append(contentsOf: Array(String(Character(scalar)).utf8))
            }
        default: out.append(e)  // \" \\ and anything else: the character itself
        }
    }

    /// A single-line `'...'` string. Starts at the opening apostrophe.
    mutating func literalString() -> String {
        advance()
        var out: [UInt8] = []
        while let b = peek(), b != Self.apostrophe, b != Self.newline { out.append(b); advance() }
        if peek() == Self.apostrophe { advance() }
        return String(decoding: out, as: UTF8.self)
    }

    /// Skips one value whose key path is `path`. Keys inside an inline table are recorded when
    /// `recordKeys` (not inside arrays, where they have no path of their own).
    mutating func skipValue(path prefix: [String], recordKeys: Bool) {
        guard let b = peek() else { return }
        if b == Self.openBracket || b == Self.openBrace {
            guard depth < Self.maxDepth else {
                // toml++ reports its own "maximum nested value depth" error for this text.
                i = bytes.count
                return
            }
            depth += 1
        }
        defer { if b == Self.openBracket || b == Self.openBrace { depth -= 1 } }
        switch b {
        case Self.quote:
            if peek(1) == Self.quote, peek(2) == Self.quote { skipMultiline(Self.quote, path: prefix) }
            else { _ = basicString(path: prefix) }
        case Self.apostrophe:
            if peek(1) == Self.apostrophe, peek(2) == Self.apostrophe { skipMultiline(Self.apostrophe, path: []) }
            else { _ = literalString() }
        case Self.openBracket:
            advance()
            while !atEnd {
                skipBlanksNewlinesComments()
                guard let c = peek() else { return }
                if c == Self.closeBracket { advance(); return }
                if c == Self.comma { advance(); continue }
                if !Self.canStartValue(c) {
                    // toml++ asserts when an array element starts with `}` or a Unicode line separator.
                    flagUnsafe("expected a value or ']' in the array")
                    advance()
                    continue
                }
                let before = i
                skipValue(path: prefix, recordKeys: false)
                if i == before { advance() }
            }
        case Self.openBrace:
            advance()
            while !atEnd {
                skipBlanksNewlinesComments()
                guard let c = peek() else { return }
                if c == Self.closeBrace { advance(); return }
                if c == Self.comma { advance(); continue }
                let keyLine = line
                let before = i
                let path = keyPath(prefix: prefix)
                if recordKeys { record(prefix + path, at: keyLine) }
                skipBlanks()
                if peek() == Self.equals { advance() }
                skipBlanks()
                skipValue(path: recordKeys ? prefix + path : prefix, recordKeys: recordKeys)
                if i == before { advance() }
            }
        default:
            // Numbers, booleans, dates: up to a delimiter.
            let start = i, startLine = line, startColumn = i - lineStart + 1
            while let c = peek(), c != Self.newline, c != Self.hash, c != Self.comma,
                  c != Self.closeBracket, c != Self.closeBrace {
                advance()
            }
            var end = i
            while end > start, bytes[end - 1] == 0x20 || bytes[end - 1] == 0x09 || bytes[end - 1] == 0x0D { end -= 1 }
            if end > start, !ScalarSyntax.isValid(bytes[start..<end]) {
                let token = String(decoding: bytes[start..<end].prefix(40), as: UTF8.self)
                flagUnsafe("invalid value '\(token)': expected a string in quotes, a number, true/false, a date or a time",
                           line: startLine, column: startColumn)
            }
        }
    }

    /// `"""..."""` or `'''...'''`, which may span lines and end with up to two extra quote characters.
    mutating func skipMultiline(_ q: UInt8, path: [String]) {
        advance(); advance(); advance()
        var scratch: [UInt8] = []
        while let b = peek() {
            if q == Self.quote, b == Self.backslash {
                advance()
                // A line-ending backslash trims whitespace; any other escape is decoded (for the NUL check).
                if let n = peek(), n == Self.newline || n == 0x20 || n == 0x09 || n == 0x0D { continue }
                decodeEscape(into: &scratch, path: path)
                scratch.removeAll(keepingCapacity: true)
                continue
            }
            if b == q, peek(1) == q, peek(2) == q {
                advance(); advance(); advance()
                // `""""` and `"""""`: the closing delimiter is the last three.
                var extra = 0
                while extra < 2, peek() == q { advance(); extra += 1 }
                return
            }
            advance()
        }
    }
}
