import Testing
@testable import HistConfig

/// toml++ 3.4 asserts (aborts) on a few malformed inputs instead of reporting them; the loader must catch
/// those first, without ever rejecting a valid TOML value.
@Suite struct ParserGuardTests {
    static func problems(_ text: String) -> [ConfigProblem] {
        do {
            _ = try ConfigLoader.load(bytes: Array(text.utf8), displayName: "t.toml", absolutePath: "/tmp/t.toml", searchPath: "/bin")
            return []
        } catch {
            return error.problems
        }
    }

    @Test(arguments: [
        ("[{program.a]\n", 1), ("x = 1\n\n[\nprogram.a]\n", 3), ("[[ {a]]\n", 1),
        ("a = [}]\n", 1), ("a = [1,\n  }]\n", 2), ("a = [1,\u{2028} 2]\n", 1), ("a = [\u{85}]\n", 1),
        ("b = 2\nh = 1979-05-27Tx7:32:00\n", 2), ("h = 1979-05-27T:7:32:00\n", 1),
    ])
    func assertingInputsBecomeSyntaxErrors(text: String, line: Int) {
        let p = Self.problems(text)
        #expect(p.count == 1)
        #expect(p.first?.line == line)
        #expect(p.first?.message.hasPrefix("TOML syntax error") == true)
    }

    @Test func anEarlierOrdinarySyntaxErrorIsReportedFirst() {
        let p = Self.problems("a = \"unterminated\nb = [}]\n")
        #expect(p.count == 1)
        #expect(p.first?.line == 1)
    }

    @Test func unquotedStringIsExplained() {
        let p = Self.problems("[program.a]\ncommand = \"/bin/sh\"\nrestart = on-failure\n")
        #expect(p.first?.line == 3)
        #expect(p.first?.message.contains("invalid value 'on-failure'") == true)
    }

    /// Every bare value form of the TOML 1.0 spec passes the pre-check.
    @Test(arguments: [
        "+99", "42", "0", "-17", "1_000", "5_349_221", "0xDEADBEEF", "0xdead_beef", "0o01234567", "0o755",
        "0b11010110", "+1.0", "3.1415", "-0.01", "5e+22", "1e06", "-2E-2", "6.626e-34", "224_617.445_991_228",
        "-0.0", "+0.0", "inf", "+inf", "-inf", "nan", "+nan", "-nan", "true", "false",
        "1979-05-27T07:32:00Z", "1979-05-27T00:32:00-07:00", "1979-05-27T00:32:00.999999-07:00",
        "1979-05-27 07:32:00Z", "1979-05-27t07:32:00z", "1979-05-27T07:32:00", "1979-05-27T00:32:00.999999",
        "1979-05-27", "07:32:00", "00:32:00.999999",
    ])
    func validScalarsPass(token: String) {
        #expect(ScalarSyntax.isValid(Array(token.utf8)[...]))
        // And toml++ agrees: the whole document parses (the only problem is the unknown key).
        let p = Self.problems("x = \(token)\ny = [\(token), \(token)]\n")
        #expect(p.allSatisfy { !$0.message.contains("syntax") }, "\(p)")
        #expect(p.count == 2)
    }

    @Test(arguments: ["1__0", "_1", "1_", "0x", "0xG", "01", "1.", ".1", "1e", "1979-05-27Tx7:32:00", "1979-5-27",
                      "07:3", "07:32:0", "tru", "infinity", "1979-05-27T07:32:00+7:00", "- 1"])
    func invalidScalarsFail(token: String) {
        #expect(!ScalarSyntax.isValid(Array(token.utf8)[...]))
    }
}
