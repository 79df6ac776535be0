/// A string as a double-quoted literal with backslash escapes: quotes, backslashes and control
/// characters escaped, everything else kept as UTF-8. The escapes are valid in both JSON (RFC 8259)
/// and TOML basic strings, so one function serves histctl's JSON output and config key paths.
/// (The writer's hot path has its own byte-level builder, `JSONText` in HistStore, for speed.)
public enum QuotedString {
    public static func quote(_ s: String) -> String {
        var out = "\""
        out.reserveCapacity(s.utf8.count + 2)
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            // Line and paragraph separators break JavaScript string literals and some terminals.
            case "\u{2028}": out += "\\u2028"
            case "\u{2029}": out += "\\u2029"
            default:
                if u.value < 0x20 || u.value == 0x7F {
                    let hex = String(u.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        return out + "\""
    }
}
