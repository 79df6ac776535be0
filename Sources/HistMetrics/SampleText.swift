/// Writes sample values byte for byte as swift-prometheus 2.4.1 writes them (its `emit` formats each
/// value with string interpolation), straight into the exposition buffer without making a String.
///
/// Why our own: a scrape of 500 programs is about 12,000 samples, and building a String for each
/// value was most of the scrape's cost. Integral values (0/1 states, counts, bytes: nearly all
/// samples) take the digit loop below; anything else falls back to `Double.description`, the text
/// the library writes. `SampleTextTests` checks both paths against `description` and the library.
enum SampleText {
    /// 2^53: below it every integral Double prints as its digits plus ".0" (above it Swift may switch
    /// to exponent notation, e.g. `9.999999999999998e+15`).
    static let integralLimit: Double = 9_007_199_254_740_992

    /// A gauge's value, as `"\(value)"`: `1.0`, `0.0`, `1764614400.123`.
    @inline(__always)
    static func appendGauge(_ v: Double, to b: inout [UInt8]) {
        if v >= 0, v < integralLimit, v.sign == .plus, v == v.rounded(.towardZero) {
            appendInt(Int64(v), to: &b)
            b.append(UInt8(ascii: "."))
            b.append(UInt8(ascii: "0"))
        } else {
            b.append(contentsOf: v.description.utf8)
        }
    }

    /// A counter's value as swift-prometheus's `Counter` writes it: the integer count while no
    /// fractional amount was added, else the sum as a Double.
    @inline(__always)
    static func appendCounter(int: Int64, double: Double, to b: inout [UInt8]) {
        if double == .zero {
            appendInt(int, to: &b)
        } else {
            appendGauge(double + Double(int), to: &b)
        }
    }

    /// `"\(v)"` for an Int64.
    @inline(__always)
    static func appendInt(_ v: Int64, to b: inout [UInt8]) {
        if v < 0 {
            guard v != .min else { return b.append(contentsOf: v.description.utf8) }
            b.append(UInt8(ascii: "-"))
            return appendInt(-v, to: &b)
        }
        if v < 10 { return b.append(UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: v)) }
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes on the stack: Int64.max has 19 digits
        var n = UInt64(v), count = 0
        withUnsafeMutableBytes(of: &digits) { raw in
            while n > 0 {
                raw[23 - count] = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: n % 10)
                n /= 10
                count += 1
            }
            b.append(contentsOf: raw[(24 - count)...])
        }
    }
}
