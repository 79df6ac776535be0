/// Whether a bare (unquoted) TOML value is well-formed: a boolean, an integer (decimal, hex, octal, binary),
/// a float (including inf and nan), or an offset/local date-time, date or time.
///
/// Why: toml++ 3.4 guesses a bare value's type from its characters and then *asserts* its guess (see
/// `KeyPositions.unsafe`), so a malformed one such as `1979-05-27Tx7:32` aborts the process. Checking the
/// form first lets the loader report it as a syntax error. This is deliberately a little more lenient than
/// TOML 1.0 (e.g. time without seconds): whatever passes here still goes to toml++, which then reports
/// any remaining error normally.
enum ScalarSyntax {
    static func isValid(_ token: ArraySlice<UInt8>) -> Bool {
        let t = Array(token)
        guard !t.isEmpty else { return false }
        if t == Array("true".utf8) || t == Array("false".utf8) { return true }
        if isSpecialFloat(t) || isInteger(t) || isFloat(t) { return true }
        return isDateTime(t)
    }

    private static func isDigit(_ c: UInt8) -> Bool { c >= 0x30 && c <= 0x39 }
    private static func isHex(_ c: UInt8) -> Bool { isDigit(c) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66) }

    private static func dropSign(_ t: [UInt8]) -> ArraySlice<UInt8> {
        if let f = t.first, f == UInt8(ascii: "+") || f == UInt8(ascii: "-") { return t.dropFirst() }
        return t[...]
    }

    private static func isSpecialFloat(_ t: [UInt8]) -> Bool {
        let body = Array(dropSign(t))
        return body == Array("inf".utf8) || body == Array("nan".utf8)
    }

    /// Digits (by `ok`) with single underscores between them: `1_000`.
    private static func isDigitRun(_ s: ArraySlice<UInt8>, _ ok: (UInt8) -> Bool) -> Bool {
        guard let f = s.first, let l = s.last, ok(f), ok(l) else { return false }
        var prevUnderscore = false
        for c in s {
            if c == UInt8(ascii: "_") {
                if prevUnderscore { return false }
                prevUnderscore = true
            } else if ok(c) {
                prevUnderscore = false
            } else {
                return false
            }
        }
        return true
    }

    private static func isInteger(_ t: [UInt8]) -> Bool {
        if t.count > 2, t[0] == UInt8(ascii: "0") {
            let rest = t[2...]
            switch t[1] {
            case UInt8(ascii: "x"): return isDigitRun(rest, isHex)
            case UInt8(ascii: "o"): return isDigitRun(rest) { $0 >= 0x30 && $0 <= 0x37 }
            case UInt8(ascii: "b"): return isDigitRun(rest) { $0 == 0x30 || $0 == 0x31 }
            default: break
            }
        }
        let body = dropSign(t)
        if body.count > 1, body.first == UInt8(ascii: "0") { return false }  // no leading zeros
        return isDigitRun(body, isDigit)
    }

    private static func isFloat(_ t: [UInt8]) -> Bool {
        var body = dropSign(t)
        var exponent: ArraySlice<UInt8>?
        if let e = body.firstIndex(where: { $0 == UInt8(ascii: "e") || $0 == UInt8(ascii: "E") }) {
            exponent = body[(e + 1)...]
            body = body[..<e]
        }
        var fraction: ArraySlice<UInt8>?
        if let dot = body.firstIndex(of: UInt8(ascii: ".")) {
            fraction = body[(dot + 1)...]
            body = body[..<dot]
        }
        guard exponent != nil || fraction != nil else { return false }
        guard isDigitRun(body, isDigit), !(body.count > 1 && body.first == UInt8(ascii: "0")) else { return false }
        if let fraction, !isDigitRun(fraction, isDigit) { return false }
        if var exponent {
            if let f = exponent.first, f == UInt8(ascii: "+") || f == UInt8(ascii: "-") { exponent = exponent.dropFirst() }
            if !isDigitRun(exponent, isDigit) { return false }
        }
        return true
    }

    /// `YYYY-MM-DD`, `HH:MM[:SS[.frac]]`, or a date, `T`/`t`/space, a time, and an optional `Z` or `+HH:MM`.
    private static func isDateTime(_ t: [UInt8]) -> Bool {
        if isDate(t[...]) { return true }
        if isTime(t[...]) { return true }
        guard t.count > 11, isDate(t[0..<10]) else { return false }
        let sep = t[10]
        guard sep == UInt8(ascii: "T") || sep == UInt8(ascii: "t") || sep == 0x20 else { return false }
        var rest = t[11...]
        if let last = rest.last, last == UInt8(ascii: "Z") || last == UInt8(ascii: "z") {
            rest = rest.dropLast()
        } else if rest.count > 6 {
            let offset = rest.suffix(6)
            let o = Array(offset)
            if (o[0] == UInt8(ascii: "+") || o[0] == UInt8(ascii: "-")), isDigit(o[1]), isDigit(o[2]), o[3] == UInt8(ascii: ":"),
               isDigit(o[4]), isDigit(o[5]) {
                rest = rest.dropLast(6)
            }
        }
        return isTime(rest)
    }

    private static func isDate(_ s: ArraySlice<UInt8>) -> Bool {
        let d = Array(s)
        guard d.count == 10, d[4] == UInt8(ascii: "-"), d[7] == UInt8(ascii: "-") else { return false }
        return [0, 1, 2, 3, 5, 6, 8, 9].allSatisfy { isDigit(d[$0]) }
    }

    private static func isTime(_ s: ArraySlice<UInt8>) -> Bool {
        let d = Array(s)
        guard d.count >= 5, isDigit(d[0]), isDigit(d[1]), d[2] == UInt8(ascii: ":"), isDigit(d[3]), isDigit(d[4]) else { return false }
        if d.count == 5 { return true }
        guard d.count >= 8, d[5] == UInt8(ascii: ":"), isDigit(d[6]), isDigit(d[7]) else { return false }
        if d.count == 8 { return true }
        guard d[8] == UInt8(ascii: "."), d.count > 9 else { return false }
        return d[9...].allSatisfy(isDigit)
    }
}
