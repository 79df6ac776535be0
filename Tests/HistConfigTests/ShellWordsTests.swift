import Testing
@testable import HistConfig

@Suite struct ShellWordsTests {
    @Test(arguments: [
        ("prog", ["prog"]),
        ("  prog   a  b ", ["prog", "a", "b"]),
        ("prog 'a b' c", ["prog", "a b", "c"]),
        (#"prog "a b" c"#, ["prog", "a b", "c"]),
        (#"prog a\ b"#, ["prog", "a b"]),
        (#"prog "say \"hi\"""#, ["prog", #"say "hi""#]),
        (#"prog 'it''s'"#, ["prog", "its"]),
        (#"prog "a\nb""#, ["prog", #"a\nb"#]),
        (#"prog 'no $expansion' "$HOME""#, ["prog", "no $expansion", "$HOME"]),
        (#"prog "" ''"#, ["prog", "", ""]),
        ("prog\ta\nb", ["prog", "a", "b"]),
        (#"python3 -c 'print("x")'"#, ["python3", "-c", #"print("x")"#]),
        (#"a\\b"#, [#"a\b"#]),
        ("", []),
    ])
    func splits(input: String, expected: [String]) throws {
        #expect(try ShellWords.split(input) == expected)
    }

    @Test(arguments: ["prog 'open", #"prog "open"#, #"prog \"#, #"prog "a\""#])
    func rejectsUnbalanced(input: String) {
        #expect(throws: ShellWords.SplitError.self) { try ShellWords.split(input) }
    }
}
