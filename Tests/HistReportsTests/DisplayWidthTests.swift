import Testing
@testable import HistReports

/// `DisplayWidth.of(String)` takes a shortcut for printable ASCII: it must agree with the per-Character
/// widths everywhere, and both must give the columns a terminal uses.
@Suite struct DisplayWidthTests {
    static let cases: [(String, Int)] = [
        ("", 0), ("web", 3), ("prog-197 running 14363", 22), ("tab\there", 7), ("del\u{7F}x", 4),
        ("日本", 4), ("café", 4), ("e\u{301}", 1), ("🔥 hot", 6), ("❤\u{FE0F}", 2), ("a\u{200B}b", 2),
        ("x\u{1}y", 2), ("~ !\"#$%&'()*+,-./0123456789:;<=>?@[\\]^_`{|}", 43),
    ]

    @Test(arguments: cases)
    func widthIsTheTerminalColumns(_ text: String, _ columns: Int) {
        #expect(DisplayWidth.of(text) == columns)
        #expect(DisplayWidth.of(text) == text.reduce(0) { $0 + DisplayWidth.of($1) })
    }

    @Test func everyASCIIByteAgreesWithTheCharacterPath() {
        for b in UInt8(0)...UInt8(0x7F) {
            let s = "ab" + String(UnicodeScalar(b)) + "cd"
            #expect(DisplayWidth.of(s) == s.reduce(0) { $0 + DisplayWidth.of($1) }, "byte \(b)")
        }
    }
}
