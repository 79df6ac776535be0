/// Builds a flat JSON object by hand, with keys in the order they are added.
///
/// Why not JSONEncoder: `events.detail` is written on the writer's hot path (hundreds of thousands of
/// events per second); a string builder is several times cheaper and its output is deterministic.
struct JSONText {
    private var out = "{"
    private var empty = true

    private mutating func key(_ k: String) {
        if !empty { out += "," }
        empty = false
        out += "\""
        out += k
        out += "\":"
    }

    mutating func add(_ k: String, _ v: Int64?) {
        guard let v else { return }
        key(k)
        out += String(v)
    }

    mutating func add(_ k: String, _ v: Int?) { add(k, v.map(Int64.init)) }

    mutating func add(_ k: String, _ v: String?) {
        guard let v else { return }
        key(k)
        out += JSONText.quote(v)
    }

    mutating func add(_ k: String, _ v: Double) {
        key(k)
        out += v.isFinite ? "\(v)" : "null"
    }

    mutating func add(_ k: String, _ v: Bool) {
        key(k)
        out += v ? "true" : "false"
    }

    /// Adds an already-encoded JSON value.
    mutating func addRaw(_ k: String, _ json: String) {
        key(k)
        out += json
    }

    var isEmpty: Bool { empty }
    var text: String { out + "}" }
    /// nil when nothing was added (stored as SQL NULL).
    var textOrNil: String? { empty ? nil : text }

    /// A JSON string literal (RFC 8259 escaping).
    static func quote(_ s: String) -> String {
        var r = "\""
        r.reserveCapacity(s.utf8.count + 2)
        for u in s.unicodeScalars {
            switch u {
            case "\"": r += "\\\""
            case "\\": r += "\\\\"
            case "\n": r += "\\n"
            case "\r": r += "\\r"
            case "\t": r += "\\t"
            case _ where u.value < 0x20:
                let hex = String(u.value, radix: 16)
                r += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: r.unicodeScalars.append(u)
            }
        }
        r += "\""
        return r
    }
}
