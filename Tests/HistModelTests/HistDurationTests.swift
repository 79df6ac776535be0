import Testing
@testable import HistModel

@Suite struct HistDurationTests {
    @Test(arguments: [
        ("250ms", Int64(250)), ("2s", 2000), ("5m", 300_000), ("1h", 3_600_000), ("1d", 86_400_000),
        ("2w", 1_209_600_000), ("1.5", 1500), ("0s", 0), ("0", 0), (" 3s ", 3000), ("1.5s", 1500),
    ])
    func parsesAcceptedForms(input: String, ms: Int64) throws {
        #expect(try HistDuration.parse(input).milliseconds == ms)
    }

    @Test(arguments: ["", "abc", "-1s", "1x", "s", "ms", "1e999", "1 2s", "nan", "inf"])
    func rejectsGarbage(input: String) {
        #expect(throws: HistDuration.ParseError.self) { try HistDuration.parse(input) }
    }

    @Test func errorNamesAcceptedForms() {
        do {
            _ = try HistDuration.parse("soon")
            Issue.record("expected an error")
        } catch {
            #expect(error.description.contains("\"soon\""))
            #expect(error.description.contains("250ms"))
        }
    }

    @Test func formatsShortly() {
        #expect(HistDuration.format(.milliseconds(250)) == "250ms")
        #expect(HistDuration.format(.seconds(2)) == "2s")
        #expect(HistDuration.format(.seconds(5400)) == "1h30m")
    }

    @Test func backoffFollowsFormula() {
        let b = BackoffPolicy(restartDelay: .seconds(1), backoffFactor: 2, maxBackoff: .seconds(10), maxRestarts: 5, resetAfter: .seconds(60))
        #expect(b.delay(attempt: 0) == .seconds(1))
        #expect(b.delay(attempt: 1) == .seconds(2))
        #expect(b.delay(attempt: 3) == .seconds(8))
        #expect(b.delay(attempt: 4) == .seconds(10))
        #expect(b.delay(attempt: 400) == .seconds(10))
        let zero = BackoffPolicy(restartDelay: .zero, backoffFactor: 2, maxBackoff: .seconds(1))
        #expect(zero.delay(attempt: 3) == .zero)
    }

    @Test func signalNames() {
        #expect(SignalName.name(11) == "SIGSEGV")
        #expect(SignalName.number("TERM") == 15)
        #expect(SignalName.number("sigkill") == 9)
        #expect(SignalName.number("9") == 9)
        #expect(SignalName.number("BOGUS") == nil)
    }
}
