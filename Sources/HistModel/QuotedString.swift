/// A string as a double-quoted literal with backslash escapes: quotes, backslashes and control
/// characters escaped, everything else kept as UTF-8. The escapes are valid in both JSON (RFC 8259)
/// and TOML basic strings, so this one escaper serves histctl's JSON output, config key paths, the
/// writer's `events.detail` (`JSONText` in HistStore appends with `append(_:to:)`) and histbench's configs.
///
/// Byte-level, because the writer calls it on its hot path: runs of bytes that need no escape are
/// copied whole, and nothing is allocated once `out` has grown.
public enum QuotedString {
    /// `s` as a quoted literal.
    public static func quote(_ s: String) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(s.utf8.count + 2)
        append(s, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Appends `s` as a quoted literal, as UTF-8.
    public static func append(_ s: String, to out: inout [UInt8]) {
        out.append(quoteByte)
        var s = s
        s.withUTF8 { appendEscaped($0, to: &out) }
        out.append(quoteByte)
    }

    /// Appends `utf8` (valid UTF-8, e.g. text SQLite returned that was checked first) as a quoted
    /// literal, without making a String of it: the same bytes as `append(String(decoding: utf8, ...))`.
    public static func append(utf8: UnsafeBufferPointer<UInt8>, to out: inout [UInt8]) {
        out.append(quoteByte)
        appendEscaped(utf8, to: &out)
        out.append(quoteByte)
    }

    private static let quoteByte = UInt8(ascii: "\"")
    private static let backslash = UInt8(ascii: "\\")

    private static func appendEscaped(_ bytes: UnsafeBufferPointer<UInt8>, to out: inout [UInt8]) {
        var run = 0
        var i = 0
        let n = bytes.count
        while i < n {
            let b = bytes[i]
            let escape: (UInt8, UInt8)? // a two-byte escape, or (0, x) for \u00xx
            var width = 1
            switch b {
            case quoteByte: escape = (backslash, quoteByte)
            case backslash: escape = (backslash, backslash)
            case 0x0A: escape = (backslash, UInt8(ascii: "n"))
            case 0x0D: escape = (backslash, UInt8(ascii: "r"))
            case 0x09: escape = (backslash, UInt8(ascii: "t"))
            case 0x08: escape = (backslash, UInt8(ascii: "b"))
            case 0x0C: escape = (backslash, UInt8(ascii: "f"))
            case 0..<0x20, 0x7F: escape = (0, b)
            // U+2028 and U+2029 (E2 80 A8/A9) break JavaScript string literals and some terminals.
            case 0xE2 where i + 2 < n && bytes[i + 1] == 0x80 && (bytes[i + 2] == 0xA8 || bytes[i + 2] == 0xA9):
                escape = (0xE2, bytes[i + 2])
                width = 3
            // U+FEFF (EF BB BF), invisible, is dropped as a byte-order mark by some readers (Foundation's
            // JSONSerialization among them) even inside a string: escaped, it survives.
            case 0xEF where i + 2 < n && bytes[i + 1] == 0xBB && bytes[i + 2] == 0xBF:
                escape = (0xEF, 0xBF)
                width = 3
            default: escape = nil
            }
            guard let escape else { i += 1; continue }
            if run < i { out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[run..<i])) }
            switch escape.0 {
            case backslash: out.append(backslash); out.append(escape.1)
            case 0xE2: out.append(contentsOf: escape.1 == 0xA8 ? line2028 : line2029)
            case 0xEF: out.append(contentsOf: bom)
            default:
                out.append(contentsOf: [backslash, UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"),
                                        hex[Int(escape.1 >> 4)], hex[Int(escape.1 & 0xF)]])
            }
            i += width
            run = i
        }
        if run < n { out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[run..<n])) }
    }

    private static let hex: [UInt8] = Array("0123456789abcdef".utf8)
    private static let line2028: [UInt8] = Array("\\u2028".utf8)
    private static let line2029: [UInt8] = Array("\\u2029".utf8)
    private static let bom: [UInt8] = Array("\\ufeff".utf8)
}
