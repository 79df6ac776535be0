/// Untrusted text (stderr, cmdlines, program names, event details) made inert for Markdown: after
/// rendering, it reads as the same characters and never as HTML, a link, emphasis, code or a table cell
/// boundary. CommonMark lets any ASCII punctuation be backslash-escaped, so the characters that can
/// start syntax are: `\` `` ` `` `*` `_` (except inside a word) `[` `]` `<` `>` `|` `#` `!` `~` `&` `(` `)` `{` `}`, plus `:` before `//`
/// (GFM would turn "http://..." into a link). Control characters become visible first (a newline is
/// ⏎), so one value never spans two lines of a table.
public enum MarkdownText {
    /// The ASCII bytes that can start syntax, as a lookup table (a postmortem escapes ~100,000 cells; a
    /// `Set` hashes every byte it is asked about).
    static let special: [Bool] = {
        var t = [Bool](repeating: false, count: 256)
        for b in "\\`*_[]<>|#!~&(){}:".utf8 { t[Int(b)] = true }
        return t
    }()

    /// One inline value, escaped.
    public static func inline(_ s: String) -> String {
        let v = Renderer.visible(s)
        // Most cells have nothing to escape: no copy.
        guard v.utf8.contains(where: { special[Int($0)] }) else { return v }
        // ASCII text (names, kinds, JSON details: nearly all of it) byte by byte, with the same rules.
        if v.utf8.allSatisfy({ $0 < 0x80 }) { return inlineASCII(v) }
        var out = ""
        out.reserveCapacity(v.utf8.count + 8)
        let scalars = Array(v.unicodeScalars)
        for (i, ch) in scalars.enumerated() {
            if ch.isASCII, special[Int(ch.value)] {
                // An underscore inside a word ("queue_full") cannot open or close emphasis (CommonMark's
                // flanking rules): left as is, so names stay readable.
                func word(_ j: Int) -> Bool {
                    j >= 0 && j < scalars.count && (scalars[j].properties.isAlphabetic || ("0"..."9").contains(scalars[j]))
                }
                // A colon matters only in "scheme://" (GFM autolinks); times keep theirs.
                let linkColon = ch == ":" && i + 2 < scalars.count && scalars[i + 1] == "/" && scalars[i + 2] == "/"
                if !(ch == "_" && word(i - 1) && word(i + 1)) && (ch != ":" || linkColon) { out.unicodeScalars.append("\\") }
            }
            out.unicodeScalars.append(ch)
        }
        return out
    }

    /// `inline` for ASCII-only text: a letter or digit is what `isAlphabetic` or 0-9 says for ASCII.
    static func inlineASCII(_ v: String) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(v.utf8.count + 16)
        bytes.append(contentsOf: v.utf8)
        func word(_ j: Int) -> Bool {
            guard j >= 0 && j < bytes.count else { return false }
            let b = bytes[j] | 0x20
            return (b >= UInt8(ascii: "a") && b <= UInt8(ascii: "z")) || (bytes[j] >= UInt8(ascii: "0") && bytes[j] <= UInt8(ascii: "9"))
        }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count + 16)
        for (i, b) in bytes.enumerated() {
            if special[Int(b)] {
                let linkColon = b == UInt8(ascii: ":") && i + 2 < bytes.count && bytes[i + 1] == UInt8(ascii: "/") && bytes[i + 2] == UInt8(ascii: "/")
                if !(b == UInt8(ascii: "_") && word(i - 1) && word(i + 1)) && (b != UInt8(ascii: ":") || linkColon) { out.append(UInt8(ascii: "\\")) }
            }
            out.append(b)
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Multi-line text as an indented code block (each line indented by 4 spaces): Markdown shows it
    /// verbatim and renderers escape HTML inside it, whatever it contains (a fence could be closed by
    /// a line of backticks in the text; an indented block cannot). Control characters other than the
    /// newline and tab become visible.
    public static func codeBlock(_ s: String) -> String {
        var lines: [String] = []
        for line in s.split(separator: "\n", omittingEmptySubsequences: false) {
            lines.append("    " + Renderer.visible(String(line)))
        }
        while lines.last == "    " { lines.removeLast() }
        return lines.joined(separator: "\n") + "\n"
    }
}
