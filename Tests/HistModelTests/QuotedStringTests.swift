import Foundation
import Testing
@testable import HistModel

/// The one JSON/TOML string escaper, checked against Foundation's JSON parsers: whatever it writes
/// decodes back to the same string, and what must be escaped is.
@Suite struct QuotedStringTests {
    /// Every control character, DEL, the two separators, quotes and backslashes, non-BMP scalars
    /// (4-byte UTF-8), combining marks, and escapes' look-alikes next to each other.
    static let hard: [String] = [
        "", "plain", "\"", "\\", "\\\"", "a\"b\\c",
        String((0..<0x20).map { Character(Unicode.Scalar(UInt8($0))) }),
        "\u{7F}", "\u{2028}", "\u{2029}", "x\u{2028}y\u{2029}z", "\u{E2}\u{80}",
        "😀", "\u{10FFFF}", "𝄞 clef", "e\u{301}", "日本語", "\u{FEFF}bom",
        "tab\tnl\ncr\rbs\u{08}ff\u{0C}nul\u{0}end", "\\u0041 is not A",
    ]

    @Test(arguments: hard)
    func roundTripsThroughJSONDecoder(_ s: String) throws {
        let quoted = QuotedString.quote(s)
        #expect(try JSONDecoder().decode(String.self, from: Data(quoted.utf8)) == s, "\(quoted)")
    }

    @Test(arguments: hard)
    func roundTripsThroughJSONSerialization(_ s: String) throws {
        let quoted = QuotedString.quote(s)
        let array = try JSONSerialization.jsonObject(with: Data("[\(quoted)]".utf8)) as? [String]
        #expect(array == [s], "\(quoted)")
    }

    @Test func escapesWhatMustBeEscapedAndKeepsTheRest() {
        let quoted = QuotedString.quote("a\u{1}\u{1F}\u{7F}\"\\\n\u{2028}😀")
        #expect(quoted == #""a\u0001\u001f\u007f\"\\\n\u2028😀""#)
        #expect(QuotedString.quote("\u{FEFF}x") == #""\ufeffx""#)
        // RFC 8259: no raw control character may remain inside the literal.
        let raw = QuotedString.quote(String((0..<0x20).map { Character(Unicode.Scalar(UInt8($0))) }))
        #expect(!raw.unicodeScalars.contains { $0.value < 0x20 })
    }

    @Test func appendMatchesQuote() {
        var out: [UInt8] = Array("prefix".utf8)
        QuotedString.append("x\ny😀", to: &out)
        #expect(String(decoding: out, as: UTF8.self) == "prefix" + QuotedString.quote("x\ny😀"))
    }

    /// Random strings over scalars from every UTF-8 length, control characters and separators weighted in.
    @Test func randomStringsRoundTrip() throws {
        var rng = SeededGenerator(seed: 10)
        let pool: [ClosedRange<UInt32>] = [0...0x1F, 0x20...0x7F, 0x80...0x7FF, 0x2020...0x202F, 0xE000...0xFFFD, 0x10000...0x10FFFF]
        for _ in 0..<500 {
            var s = String.UnicodeScalarView()
            for _ in 0..<Int.random(in: 0...24, using: &rng) {
                let range = pool.randomElement(using: &rng)!
                if let u = Unicode.Scalar(UInt32.random(in: range, using: &rng)) { s.append(u) }
            }
            let string = String(s)
            let quoted = QuotedString.quote(string)
            #expect(try JSONDecoder().decode(String.self, from: Data(quoted.utf8)) == string, "\(quoted)")
        }
    }
}
