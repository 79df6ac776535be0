/// Untrusted text made safe for HTML and SVG: `&`, `<`, `>`, `"` and `'` become character references,
/// so text can go into element content and into quoted attribute values alike and never closes or
/// opens an element (`</svg>`, `<script>`). Control characters other than newline and tab, which XML
/// and HTML do not allow as text, become U+FFFD. Invalid UTF-8 never reaches here: Swift strings
/// read from SQLite are valid Unicode (bad bytes already are U+FFFD).
public enum HTMLText {
    /// Escaped text.
    public static func escape(_ s: String) -> String {
        // The common case has nothing to escape: no copy.
        guard s.utf8.contains(where: { needsWork($0) }) else { return s }
        var out = ""
        out.reserveCapacity(s.utf8.count + 16)
        for u in s.unicodeScalars {
            switch u {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            case "\n", "\t": out.unicodeScalars.append(u)
            default:
                if u.value < 0x20 || u.value == 0x7F || (0x80...0x9F).contains(u.value) {
                    out += "\u{FFFD}"
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        return out
    }

    /// Bytes that may need escaping (C1 controls are two-byte sequences starting with 0xC2).
    @inline(__always) static func needsWork(_ b: UInt8) -> Bool {
        b == UInt8(ascii: "&") || b == UInt8(ascii: "<") || b == UInt8(ascii: ">") || b == UInt8(ascii: "\"")
            || b == UInt8(ascii: "'") || (b < 0x20 && b != 0x0A && b != 0x09) || b == 0x7F || b == 0xC2
    }
}
