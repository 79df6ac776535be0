import HistModel

/// Builds a flat JSON object by hand, as UTF-8 bytes, with keys in the order they are added.
///
/// Why not JSONEncoder: `events.detail` is written on the writer's hot path (hundreds of thousands of
/// events per second); a byte builder is several times cheaper and its output is deterministic. Why
/// bytes rather than a `String`: the writer keeps one builder and calls `reset()` per event, so building
/// a detail allocates nothing once its buffer has grown, and the bytes are bound to SQLite as they are.
struct JSONText {
    private(set) var bytes: [UInt8] = [UInt8(ascii: "{")]
    private var empty = true

    /// Starts a new object, keeping the buffer's capacity.
    mutating func reset() {
        bytes.removeAll(keepingCapacity: true)
        bytes.append(UInt8(ascii: "{"))
        empty = true
    }

    private mutating func key(_ k: StaticString) {
        if !empty { bytes.append(UInt8(ascii: ",")) }
        empty = false
        bytes.append(UInt8(ascii: "\""))
        k.withUTF8Buffer { bytes.append(contentsOf: $0) }
        bytes.append(UInt8(ascii: "\""))
        bytes.append(UInt8(ascii: ":"))
    }

    mutating func add(_ k: StaticString, _ v: Int64?) {
        guard let v else { return }
        key(k)
        JSONText.appendDecimal(v, to: &bytes)
    }

    mutating func add(_ k: StaticString, _ v: Int?) {
        guard let v else { return }
        add(k, Int64(v))
    }

    mutating func add(_ k: StaticString, _ v: String?) {
        guard let v else { return }
        key(k)
        JSONText.appendQuoted(v, to: &bytes)
    }

    mutating func add(_ k: StaticString, _ v: Double) {
        key(k)
        bytes.append(contentsOf: (v.isFinite ? "\(v)" : "null").utf8)
    }

    mutating func add(_ k: StaticString, _ v: Bool) {
        key(k)
        bytes.append(contentsOf: (v ? "true" : "false").utf8)
    }

    /// Adds an already-encoded JSON value.
    mutating func addRaw(_ k: StaticString, _ json: String) {
        key(k)
        bytes.append(contentsOf: json.utf8)
    }

    /// Adds a member whose key is not a literal (e.g. the kind names in `dropped_by_kind`).
    mutating func add(dynamicKey k: String, _ v: Int) {
        if !empty { bytes.append(UInt8(ascii: ",")) }
        empty = false
        JSONText.appendQuoted(k, to: &bytes)
        bytes.append(UInt8(ascii: ":"))
        JSONText.appendDecimal(Int64(v), to: &bytes)
    }

    var isEmpty: Bool { empty }
    /// The object's text.
    var text: String {
        var b = bytes
        b.append(UInt8(ascii: "}"))
        return String(decoding: b, as: UTF8.self)
    }
    /// nil when nothing was added (stored as SQL NULL).
    var textOrNil: String? { empty ? nil : text }

    /// Closes the object in place (after the last `add`) so `bytes` is the complete JSON text.
    mutating func close() { bytes.append(UInt8(ascii: "}")) }

    /// Decimal digits of `v`, without going through `String`.
    static func appendDecimal(_ v: Int64, to out: inout [UInt8]) {
        var m = v.magnitude
        if m < 10 && v >= 0 {
            out.append(UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: m))
            return
        }
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0) // 24 bytes: 19 digits, a sign
        withUnsafeMutableBytes(of: &digits) { d in
            var i = d.count
            repeat {
                i -= 1
                d[i] = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: m % 10)
                m /= 10
            } while m > 0
            if v < 0 {
                i -= 1
                d[i] = UInt8(ascii: "-")
            }
            out.append(contentsOf: UnsafeRawBufferPointer(rebasing: d[i...]))
        }
    }

    /// A JSON string literal appended as UTF-8: the one escaper, `QuotedString` (HistModel).
    static func appendQuoted(_ s: String, to out: inout [UInt8]) { QuotedString.append(s, to: &out) }

    /// A JSON string literal (RFC 8259 escaping).
    static func quote(_ s: String) -> String { QuotedString.quote(s) }
}
