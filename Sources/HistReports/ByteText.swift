import HistModel

/// UTF-8 output built byte by byte, for the renderers of whole listings (CSV and JSON of 67 k crashes).
///
/// Why bytes and not `String` pieces: `map`, `joined`, `+=` and Foundation's `replacingOccurrences` made
/// the CSV of a day's crashes cost more CPU than reading it from SQLite (perf: 37 % of histctl in
/// `Renderer.csv`). Here every cell is appended in place, text is scanned as bytes, and numbers and times
/// are written as digits without an intermediate string. The text produced is the same as
/// `Renderer.csvText`/`jsonValue` give (tests compare them), except that CSV quotes a field whose bytes
/// hold a `,` or `"` even when a combining mark follows it (the `Character` test missed those).
struct ByteText {
    var bytes: [UInt8] = []

    init(capacity: Int = 0) { bytes.reserveCapacity(capacity) }

    var string: String { String(decoding: bytes, as: UTF8.self) }

    mutating func append(_ s: String) {
        var s = s
        s.withUTF8 { bytes.append(contentsOf: $0) }
    }

    @inline(__always) mutating func append(byte: UInt8) { bytes.append(byte) }

    /// A decimal integer, as `String(n)` writes it.
    mutating func append(integer n: Int64) {
        if n < 0 {
            guard n != .min else { append(String(n)); return }
            bytes.append(UInt8(ascii: "-"))
            append(unsigned: UInt64(-n))
        } else {
            append(unsigned: UInt64(n))
        }
    }

    private mutating func append(unsigned n: UInt64) {
        // Digits counted first, then written in place (no temporary buffer, no generic append).
        var count = 1
        var p: UInt64 = 10
        while count < 20 && n >= p { count += 1; p = p &* 10 }
        let start = bytes.count
        bytes.append(contentsOf: repeatElement(UInt8(ascii: "0"), count: count))
        bytes.withUnsafeMutableBufferPointer { b in
            var v = n
            var i = start + count - 1
            while v > 0 {
                b[i] = UInt8(ascii: "0") + UInt8(v % 10)
                v /= 10
                i -= 1
            }
        }
    }

    /// `n` (>= 0) with at least `width` digits, zero-padded.
    private mutating func append(padded n: Int, _ width: Int) {
        var digits = 1, v = n
        while v >= 10 { v /= 10; digits += 1 }
        if digits < width { for _ in digits..<width { bytes.append(UInt8(ascii: "0")) } }
        append(unsigned: UInt64(n))
    }

    /// `Renderer.number(d)`: the shortest round-tripping decimal ("2.0", "0.125"). Values that are whole
    /// milliseconds (every duration a report computes as ms / 1000.0) are written from their integer:
    /// for |d| < 10^12 the trimmed decimal of ms / 1000 is the shortest string that reads back as d,
    /// which is what Swift's description prints; anything else goes through the description.
    mutating func append(number d: Double) {
        let ms = (d * 1000).rounded()
        guard d.isFinite, abs(d) < 1e12, ms / 1000 == d, !(d == 0 && d.sign == .minus) else {
            append(Renderer.number(d))
            return
        }
        let m = Int64(ms)
        let whole = m / 1000, frac = abs(m % 1000)
        if m < 0 && whole == 0 { bytes.append(UInt8(ascii: "-")) }
        append(integer: whole)
        bytes.append(UInt8(ascii: "."))
        if frac == 0 { bytes.append(UInt8(ascii: "0")); return }
        let d1 = frac / 100, d2 = frac / 10 % 10, d3 = frac % 10
        bytes.append(UInt8(ascii: "0") + UInt8(d1))
        if d2 != 0 || d3 != 0 { bytes.append(UInt8(ascii: "0") + UInt8(d2)) }
        if d3 != 0 { bytes.append(UInt8(ascii: "0") + UInt8(d3)) }
    }

    /// `TimeText.iso(t)`: `2026-11-21T10:00:00.123Z`.
    mutating func append(iso t: Timestamp) {
        let f = CivilTime.fields(t.milliseconds)
        guard (0...9999).contains(f.year) else { append(TimeText.iso(t)); return }
        append(padded: f.year, 4); bytes.append(UInt8(ascii: "-"))
        append(padded: f.month, 2); bytes.append(UInt8(ascii: "-"))
        append(padded: f.day, 2); bytes.append(UInt8(ascii: "T"))
        append(padded: f.hour, 2); bytes.append(UInt8(ascii: ":"))
        append(padded: f.minute, 2); bytes.append(UInt8(ascii: ":"))
        append(padded: f.second, 2); bytes.append(UInt8(ascii: "."))
        append(padded: f.millis, 3); bytes.append(UInt8(ascii: "Z"))
    }

    // MARK: CSV

    /// One CSV field (RFC 4180): quoted when it holds `,` `"` CR or LF, quotes doubled.
    mutating func append(csvField s: String) {
        var s = s
        s.withUTF8 { append(csvField: $0) }
    }

    /// One CSV field from UTF-8 bytes (the listings write SQLite's text without a String of it).
    mutating func append(csvField u: UnsafeBufferPointer<UInt8>) {
        guard u.contains(where: { $0 == 0x2C || $0 == 0x22 || $0 == 0x0A || $0 == 0x0D }) else {
            bytes.append(contentsOf: u)
            return
        }
        bytes.append(0x22)
        var run = 0
        for i in 0..<u.count where u[i] == 0x22 {
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: u[run...i]))
            bytes.append(0x22)
            run = i + 1
        }
        bytes.append(contentsOf: UnsafeBufferPointer(rebasing: u[run...]))
        bytes.append(0x22)
    }

    /// Whether `u` is all ASCII, hence valid UTF-8 that a String would hold byte for byte (text that is not
    /// goes through `String(decoding:)`, which repairs it, so that the bytes written are the same).
    @inline(__always) static func isASCII(_ u: UnsafeBufferPointer<UInt8>) -> Bool {
        // Eight bytes at a time: stderr tails are a few hundred bytes each, 67 k of them in a day's listing.
        guard let base = u.baseAddress else { return true }
        let n = u.count
        var i = 0
        let raw = UnsafeRawPointer(base)
        while i + 8 <= n {
            if raw.loadUnaligned(fromByteOffset: i, as: UInt64.self) & 0x8080_8080_8080_8080 != 0 { return false }
            i += 8
        }
        while i < n {
            if base[i] >= 0x80 { return false }
            i += 1
        }
        return true
    }

    /// One cell as `Renderer.csvField(Renderer.csvText(v))`.
    mutating func append(csv v: ReportValue) {
        switch v {
        case .null: break
        case .integer(let n): append(integer: n)
        case .real(let d): if d.isFinite { append(number: d) }
        case .text(let s): append(csvField: s)
        case .bool(let b): append(b ? "true" : "false")
        case .time(let t): append(iso: t)
        }
    }

    // MARK: JSON

    /// One value as `Renderer.jsonValue(v)`.
    mutating func append(json v: ReportValue) {
        switch v {
        case .null: append("null")
        case .integer(let n): append(integer: n)
        case .real(let d): if d.isFinite { append(number: d) } else { append("null") }
        case .text(let s): QuotedString.append(s, to: &bytes)
        case .bool(let b): append(b ? "true" : "false")
        case .time(let t):
            bytes.append(0x22)
            append(iso: t)
            bytes.append(0x22)
        }
    }
}
