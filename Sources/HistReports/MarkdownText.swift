/// Untrusted text (stderr, cmdlines, program names, event details) made inert for Markdown: after
/// rendering, it reads as the same characters and never as HTML, a link, emphasis, code or a table cell
/// boundary. CommonMark lets any ASCII punctuation be backslash-escaped, so the characters that can
/// start syntax are: `\` `` ` `` `*` `_` (except inside a word) `[` `]` `<` `>` `|` `#` `!` `~` `&` `(` `)` `{` `}`, plus `:` before `//`
/// (GFM would turn "http://..." into a link). Control characters become visible first (a newline is
/// ⏎), so one value never spans two lines of a table.
public enum MarkdownText {
    static let special: Set<UInt8> = Set("\\`*_[]<>|#!~&(){}:".utf8)

    /// One inline value, escaped.
    public static func inline(_ s: String) -> String {
        let v = Renderer.visible(s)
        // Most cells have nothing to escape: no copy.
        guard v.utf8.contains(where: { special.contains($0) }) else { return v }
        var out = ""
        out.reserveCapacity(v.utf8.count + 8)
        let scalars = Array(v.unicodeScalars)
        for (i, ch) in scalars.enumerated() {
            if ch.isASCII, special.contains(UInt8(ch.value)) {
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
