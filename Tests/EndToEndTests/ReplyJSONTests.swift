import Foundation
import Testing
import TestThreads
@testable import HistctlCommands

/// histctl's own reader of histd's control replies (ReplyJSON) against Foundation's JSONSerialization:
/// the same values for valid JSON, and a refusal wherever JSONSerialization refuses (and for trailing
/// commas, which it accepts).
@Suite(.blocking) struct ReplyJSONTests {
    /// ReplyJSON's value as the Foundation object JSONSerialization gives for the same text.
    static func foundation(_ v: ReplyJSON) -> Any {
        switch v {
        case .null: NSNull()
        case .bool(let b): b
        case .int(let n): n
        case .double(let d): d
        case .string(let s): s
        case .array(let a): a.map(foundation)
        case .object(let m): Dictionary(m.map { ($0.0, foundation($0.1)) }, uniquingKeysWith: { _, last in last })
        }
    }

    static func reads(_ text: String) throws -> ReplyJSON { try ReplyJSON.parse(ArraySlice(Array(text.utf8))) }

    @Test(arguments: [
        #"{"v":1,"ok":true,"result":"done","units":[{"name":"p0000","worker":null,"pid":20845,"uptime_ms":26949}]}"#,
        #"{"a":"tab\there \"quoted\" back\\slash \/ nl\n cr\r bs\b ff\f","u":"\u00e9\u4e2d\ud83d\ude00","raw":"é中😀"}"#,
        #"  [ 0, 12, -987654321012345678, 9223372036854775807, 1.5, -2.5e3, 1E-2, true, false, null, [], {} ] "#,
        #"{"nested":{"a":[1,[2,[3,{"b":"c"}]]]},"empty":""}"#,
    ])
    func validTextsReadAsFoundationReadsThem(_ text: String) throws {
        let ours = try Self.reads(text)
        let theirs = try JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed])
        let a = try JSONSerialization.data(withJSONObject: Self.foundation(ours), options: [.sortedKeys, .fragmentsAllowed])
        let b = try JSONSerialization.data(withJSONObject: theirs, options: [.sortedKeys, .fragmentsAllowed])
        #expect(String(decoding: a, as: UTF8.self) == String(decoding: b, as: UTF8.self))
    }

    @Test(arguments: [
        "", "{", "}", "{\"a\" 1}", "{a:1}", "'x'", "[01]", "[1.]", "[.5]", "[1e]", "[+1]",
        "[\"\\x\"]", "[\"\\u12\"]", "[\"\\ud83d\"]", "[\"\\ude00\"]", "[\"a\u{01}b\"]", "[tru]", "nul", "[1] [2]", "[\"abc",
    ])
    func malformedTextsAreRefused(_ text: String) {
        #expect(throws: ReplyJSON.Malformed.self) { try Self.reads(text) }
        #expect((try? JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed])) == nil,
                "JSONSerialization refuses it too")
    }

    /// Trailing commas: JSONSerialization accepts them, RFC 8259 does not, and neither does ReplyJSON
    /// (histd never writes one).
    @Test(arguments: ["[1,]", "{\"a\":1,}"])
    func trailingCommasAreRefused(_ text: String) {
        #expect(throws: ReplyJSON.Malformed.self) { try Self.reads(text) }
    }

    @Test func invalidUTF8IsRefused() {
        let bytes: [UInt8] = Array(#"{"a":""#.utf8) + [0xFF, 0xFE] + Array(#""}"#.utf8)
        #expect(throws: ReplyJSON.Malformed.self) { try ReplyJSON.parse(ArraySlice(bytes)) }
    }

    @Test func liveStatusReadsTheDocumentedReply() throws {
        // docs/CONTROL.md's status example, with a second unit that is running.
        let line = #"{"v":1,"ok":true,"result":"done","message":"2 unit(s)","live":true,"histd_pid":812,"units":[{"name":"jobs.0","program":"jobs","worker":0,"state":"backoff","pid":null,"uptime_ms":null,"backoff_remaining_ms":800,"restarts":1},{"name":"web","program":"web","worker":null,"state":"running","pid":4730,"uptime_ms":61500,"backoff_remaining_ms":null,"restarts":0}]}"#
        let s = try LiveStatus.decode(ArraySlice(Array(line.utf8)))
        #expect(s.result == "done" && s.histdPid == 812 && s.units?.count == 2)
        #expect(LiveStatus.table(s.units ?? [], histdPid: 812) == """
            live from histd (pid 812)
            NAME    STATE    PID   UPTIME  BACKOFF  RESTARTS
            jobs.0  backoff  -     -       0.8s     1
            web     running  4730  1m1s    -        0

            """)
        #expect(LiveStatus.csv(s.units ?? []) == "NAME,STATE,PID,UPTIME,BACKOFF,RESTARTS\r\njobs.0,backoff,,,0.8s,1\r\nweb,running,4730,1m1s,,0\r\n")
    }

    @Test(arguments: [(0, "0.0s"), (50, "0.1s"), (1250, "1.2s"), (1350, "1.4s"), (59_999, "60.0s"), (60_000, "1m0s"),
                      (3_600_000, "1h0m"), (90_061_000, "1d1h")])
    func durationsPrintAsBefore(_ ms: Int, _ text: String) {
        #expect(LiveStatus.format(ms: ms) == text)
        if ms < 60_000 { #expect(LiveStatus.format(ms: ms) == String(format: "%.1fs", Double(ms) / 1000)) }
    }

    @Test func requestsEncodeAsJSONObjects() throws {
        let request: [String: Any] = ["v": 1, "cmd": "status", "names": ["web", "jobs.0", "q\"x"], "wait": true, "force": false]
        let line = try #require(ControlClient.encode(request))
        let back = try #require(try JSONSerialization.jsonObject(with: Data(line)) as? [String: Any])
        #expect(back["v"] as? Int == 1 && back["cmd"] as? String == "status" && back["wait"] as? Bool == true
                && back["force"] as? Bool == false && back["names"] as? [String] == ["web", "jobs.0", "q\"x"])
        #expect(ControlClient.encode(["x": 1.5]) == nil, "a type requests never hold is refused, not guessed")
    }
}
