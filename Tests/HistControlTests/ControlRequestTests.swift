import Testing
@testable import HistControl

/// Request lines as a table: each bad one gets its result word, each good one parses.
@Suite struct ControlRequestTests {
    static let cases: [(String, String)] = [
        ("not json", "bad_request"),
        ("[1,2]", "bad_request"),
        ("{\"cmd\":\"status\"}", "bad_request"),
        ("{\"v\":2,\"cmd\":\"status\"}", "unsupported_version"),
        ("{\"v\":1,\"cmd\":\"explode\"}", "bad_request"),
        ("{\"v\":1,\"cmd\":\"restart\"}", "bad_request"),
        ("{\"v\":1,\"cmd\":\"restart\",\"names\":\"web\"}", "bad_request"),
        ("{\"v\":1,\"cmd\":\"restart\",\"names\":[\"\"]}", "bad_request"),
        ("{\"v\":1,\"cmd\":\"scale\",\"names\":[\"jobs\"]}", "bad_request"),
        ("{\"v\":1,\"cmd\":\"signal\",\"names\":[\"web\"]}", "bad_request"),
        ("{\"v\":1,\"cmd\":\"stop\",\"names\":[\"web\"],\"timeout_ms\":-1}", "bad_request"),
        ("{\"v\":1,\"cmd\":\"status\"}", "ok"),
        ("{\"v\":1,\"id\":\"a\\\"b\",\"cmd\":\"restart\",\"names\":[\"web\",\"jobs.0\"],\"wait\":false}", "ok"),
        ("{\"v\":1,\"cmd\":\"scale\",\"names\":[\"jobs\"],\"count\":3}", "ok"),
        ("{\"v\":1,\"cmd\":\"reload\",\"dry_run\":true}", "ok"),
    ]

    @Test("request lines", arguments: cases)
    func parse(line: String, expected: String) {
        switch ControlRequest.parse(ArraySlice(Array(line.utf8))) {
        case .success: #expect(expected == "ok", "\(line) parsed")
        case .failure(let reply): #expect(reply.result == expected, "\(line): \(reply.message)")
        }
    }

    @Test func theReplyEchoesTheIdAndIsOneLine() throws {
        guard case .success(let r) = ControlRequest.parse(ArraySlice(Array("{\"v\":1,\"id\":7,\"cmd\":\"status\",\"timeout_ms\":999999999}".utf8))) else {
            Issue.record("did not parse"); return
        }
        #expect(r.id == "7" && r.timeout == ControlRequest.maxTimeout && r.wait)
        let line = ControlReply(id: r.id, ok: true, result: "done", message: "a\nb").line
        #expect(line.last == 10 && line.filter { $0 == 10 }.count == 1)
        #expect(String(decoding: line, as: UTF8.self).hasPrefix("{\"v\":1,\"id\":7,\"ok\":true,\"result\":\"done\""))
    }
}
