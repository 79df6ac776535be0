import Testing
@testable import HistModel

@Suite struct EditDistanceTests {
    @Test(arguments: [("", "", 0), ("", "abc", 3), ("abc", "", 3), ("kitten", "sitting", 3), ("flaw", "lawn", 2),
                      ("restart_delay", "restart_dleay", 2), ("web", "web", 0), ("ab", "ba", 2)])
    func levenshtein(a: String, b: String, d: Int) {
        #expect(EditDistance.levenshtein(Array(a.utf8), Array(b.utf8)) == d)
        #expect(EditDistance.levenshtein(Array(b.unicodeScalars), Array(a.unicodeScalars)) == d, "symmetric")
    }
}
