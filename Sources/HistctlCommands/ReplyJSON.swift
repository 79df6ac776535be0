/// A minimal JSON (RFC 8259) reader for histd's one-line control replies.
///
/// Written here because both Foundation readers cost more than the rest of `histctl status`: for a
/// 500-unit reply (69 KB) JSONSerialization took 21 M instructions (a tree of bridged objects, a dynamic
/// cast per field read) and JSONDecoder 21 M (generic Decodable containers), against about 2 M for this
/// one byte loop (callgrind, BENCHMARKS.md "Process start"). No package in the local mirror offers a
/// JSON reader. It reads the whole grammar (nested values, every escape, surrogate pairs) and rejects
/// anything else: where JSONSerialization refuses a text, and also trailing commas (which it accepts).
enum ReplyJSON: Equatable {
    case null
    case bool(Bool)
    /// A number without fraction or exponent that fits an Int.
    case int(Int)
    case double(Double)
    case string(String)
    case array([ReplyJSON])
    /// Members in document order (a repeated key: the last one wins in `subscript`).
    case object([(String, ReplyJSON)])

    static func == (a: ReplyJSON, b: ReplyJSON) -> Bool {
        switch (a, b) {
        case (.null, .null): true
        case (.bool(let x), .bool(let y)): x == y
        case (.int(let x), .int(let y)): x == y
        case (.double(let x), .double(let y)): x == y
        case (.string(let x), .string(let y)): x == y
        case (.array(let x), .array(let y)): x == y
        case (.object(let x), .object(let y)): x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: false
        }
    }

    struct Malformed: Error {}

    /// Parses one JSON text (surrounding whitespace allowed).
    static func parse(_ bytes: ArraySlice<UInt8>) throws(Malformed) -> ReplyJSON {
        try Array(bytes).withUnsafeBufferPointer { (buf) throws(Malformed) -> ReplyJSON in
            var r = Reader(b: buf, i: 0)
            let v = try r.value(depth: 0)
            r.skipSpace()
            guard r.i == buf.count else { throw Malformed() }
            return v
        }
    }

    subscript(key: String) -> ReplyJSON? {
        guard case .object(let members) = self else { return nil }
        return members.last { $0.0 == key }?.1
    }

    var string: String? { if case .string(let s) = self { s } else { nil } }
    var int: Int? { if case .int(let n) = self { n } else { nil } }
    var array: [ReplyJSON]? { if case .array(let a) = self { a } else { nil } }

    private struct Reader {
        let b: UnsafeBufferPointer<UInt8>
        var i: Int

        mutating func skipSpace() {
            while i < b.count, b[i] == 0x20 || b[i] == 0x0A || b[i] == 0x0D || b[i] == 0x09 { i += 1 }
        }

        mutating func value(depth: Int) throws(Malformed) -> ReplyJSON {
            guard depth < 512 else { throw Malformed() }
            skipSpace()
            guard i < b.count else { throw Malformed() }
            switch b[i] {
            case UInt8(ascii: "{"):
                i += 1
                var members: [(String, ReplyJSON)] = []
                skipSpace()
                if i < b.count, b[i] == UInt8(ascii: "}") { i += 1; return .object(members) }
                while true {
                    skipSpace()
                    guard i < b.count, b[i] == UInt8(ascii: "\"") else { throw Malformed() }
                    let key = try string()
                    skipSpace()
                    guard i < b.count, b[i] == UInt8(ascii: ":") else { throw Malformed() }
                    i += 1
                    members.append((key, try value(depth: depth + 1)))
                    skipSpace()
                    guard i < b.count else { throw Malformed() }
                    if b[i] == UInt8(ascii: ",") { i += 1; continue }
                    if b[i] == UInt8(ascii: "}") { i += 1; return .object(members) }
                    throw Malformed()
                }
            case UInt8(ascii: "["):
                i += 1
                var items: [ReplyJSON] = []
                skipSpace()
                if i < b.count, b[i] == UInt8(ascii: "]") { i += 1; return .array(items) }
                while true {
                    items.append(try value(depth: depth + 1))
                    skipSpace()
                    guard i < b.count else { throw Malformed() }
                    if b[i] == UInt8(ascii: ",") { i += 1; continue }
                    if b[i] == UInt8(ascii: "]") { i += 1; return .array(items) }
                    throw Malformed()
                }
            case UInt8(ascii: "\""):
                return .string(try string())
            case UInt8(ascii: "t"): try literal("true"); return .bool(true)
            case UInt8(ascii: "f"): try literal("false"); return .bool(false)
            case UInt8(ascii: "n"): try literal("null"); return .null
            default:
                return try number()
            }
        }

        mutating func literal(_ word: StaticString) throws(Malformed) {
            let n = word.utf8CodeUnitCount
            guard i + n <= b.count else { throw Malformed() }
            for k in 0..<n where b[i + k] != word.utf8Start[k] { throw Malformed() }
            i += n
        }

        mutating func number() throws(Malformed) -> ReplyJSON {
            let start = i
            if i < b.count, b[i] == UInt8(ascii: "-") { i += 1 }
            guard i < b.count, b[i] >= 0x30, b[i] <= 0x39 else { throw Malformed() }
            if b[i] == 0x30 { i += 1 } else { while i < b.count, b[i] >= 0x30, b[i] <= 0x39 { i += 1 } }
            var integral = true
            if i < b.count, b[i] == UInt8(ascii: ".") {
                integral = false
                i += 1
                guard i < b.count, b[i] >= 0x30, b[i] <= 0x39 else { throw Malformed() }
                while i < b.count, b[i] >= 0x30, b[i] <= 0x39 { i += 1 }
            }
            if i < b.count, b[i] == UInt8(ascii: "e") || b[i] == UInt8(ascii: "E") {
                integral = false
                i += 1
                if i < b.count, b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-") { i += 1 }
                guard i < b.count, b[i] >= 0x30, b[i] <= 0x39 else { throw Malformed() }
                while i < b.count, b[i] >= 0x30, b[i] <= 0x39 { i += 1 }
            }
            if integral, i - start <= 18 {
                // At most 18 digits: fits an Int, no overflow check needed.
                var n = 0
                var k = b[start] == UInt8(ascii: "-") ? start + 1 : start
                while k < i { n = n * 10 + Int(b[k] - 0x30); k += 1 }
                return .int(b[start] == UInt8(ascii: "-") ? -n : n)
            }
            let text = String(decoding: UnsafeBufferPointer(rebasing: b[start..<i]), as: UTF8.self)
            if integral, let n = Int(text) { return .int(n) }
            guard let d = Double(text) else { throw Malformed() }
            return .double(d)
        }

        /// A string starting at the opening quote; escapes decoded, raw control characters refused.
        mutating func string() throws(Malformed) -> String {
            i += 1
            let start = i
            // Fast path: no escape before the closing quote.
            var ascii = true
            while i < b.count, b[i] != UInt8(ascii: "\""), b[i] != UInt8(ascii: "\\"), b[i] >= 0x20 { ascii = ascii && b[i] < 0x80; i += 1 }
            guard i < b.count else { throw Malformed() }
            if b[i] == UInt8(ascii: "\"") {
                defer { i += 1 }
                let run = UnsafeBufferPointer(rebasing: b[start..<i])
                return ascii ? String(decoding: run, as: UTF8.self) : try validUTF8(run) // ASCII is valid UTF-8
            }
            var out = Array(UnsafeBufferPointer(rebasing: b[start..<i]))
            while true {
                guard i < b.count else { throw Malformed() }
                let c = b[i]
                if c == UInt8(ascii: "\"") { i += 1; break }
                guard c >= 0x20 else { throw Malformed() }
                if c != UInt8(ascii: "\\") { out.append(c); i += 1; continue }
                i += 1
                guard i < b.count else { throw Malformed() }
                let e = b[i]
                i += 1
                switch e {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try hex4()
                    if (0xD800...0xDBFF).contains(scalar) {
                        // A high surrogate must be followed by an escaped low one.
                        guard i + 1 < b.count, b[i] == UInt8(ascii: "\\"), b[i + 1] == UInt8(ascii: "u") else { throw Malformed() }
                        i += 2
                        let low = try hex4()
                        guard (0xDC00...0xDFFF).contains(low) else { throw Malformed() }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    } else if (0xDC00...0xDFFF).contains(scalar) {
                        throw Malformed()
                    }
                    guard let u = Unicode.Scalar(scalar) else { throw Malformed() }
                    out.append(contentsOf: String(Character(u)).utf8)
                default:
                    throw Malformed()
                }
            }
            return try out.withUnsafeBufferPointer { (p) throws(Malformed) -> String in try validUTF8(p) }
        }

        mutating func hex4() throws(Malformed) -> UInt32 {
            guard i + 4 <= b.count else { throw Malformed() }
            var v: UInt32 = 0
            for _ in 0..<4 {
                let c = b[i]
                let d: UInt8
                switch c {
                case 0x30...0x39: d = c - 0x30
                case 0x41...0x46: d = c - 0x41 + 10
                case 0x61...0x66: d = c - 0x61 + 10
                default: throw Malformed()
                }
                v = v << 4 | UInt32(d)
                i += 1
            }
            return v
        }

        func validUTF8(_ p: UnsafeBufferPointer<UInt8>) throws(Malformed) -> String {
            guard let s = String(validating: p, as: UTF8.self) else { throw Malformed() }
            return s
        }
    }
}
