#if canImport(Glibc)
import Glibc
#endif
import Foundation
import HistTestSupport
import HistModel
import Testing
@testable import HistMetrics

/// The real server on loopback and on a unix socket, asked by a raw HTTP client, well-behaved or not.
@Suite(.serialized) struct ServerTests {
    @Test func servesBothFormatsAndNothingElse() async throws {
        let metrics = SupervisorMetrics(programs: ["a"], pools: [], version: "9.9.9")
        metrics.record(HistEvent(program: "a", payload: .started(InstanceInfo(
            id: 1, program: "a", identity: ProcessIdentity(pid: 1, startTicks: 1), startedAt: .now()))))
        let port = try LoopbackHTTP.freePort()
        let server = try await MetricsServer.start(.tcp(host: "127.0.0.1", port: port), metrics: metrics)
        defer { Task { await server.stop() } }

        let plain = try await askServer { try LoopbackHTTP.tcp(port: port) }
        #expect(plain.status == 200)
        #expect(plain.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8")
        let m = Exposition(plain.body)
        #expect(m[#"histd_program_starts_total{program="a"}"#] == 1)
        #expect(m[#"histd_build_info{version="9.9.9"}"#] == 1)

        let om = try await askServer { try LoopbackHTTP.tcp(port: port, accept: "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5") }
        #expect(om.status == 200)
        #expect(om.headers["content-type"] == "application/openmetrics-text; version=1.0.0; charset=utf-8")
        let omText = String(decoding: om.body, as: UTF8.self)
        #expect(omText.hasSuffix("# EOF\n"))
        #expect(omText.contains("# TYPE histd_program_starts counter\n"))
        #expect(omText.contains(#"histd_program_starts_total{program="a"} 1"#))

        #expect(try await askServer { try LoopbackHTTP.tcp(port: port, path: "/") }.status == 404)
        #expect(try await askServer { try LoopbackHTTP.tcp(port: port, method: "POST") }.status == 405)
        await server.stop()
    }

    @Test func silentAndHalfSentClientsDoNotHoldUpAScrape() async throws {
        let metrics = SupervisorMetrics(programs: ["a"], pools: [], version: "t")
        let port = try LoopbackHTTP.freePort()
        let server = try await MetricsServer.start(.tcp(host: "127.0.0.1", port: port), metrics: metrics)
        // Two clients that never finish a request: one silent, one stopped mid-head.
        let silent = try LoopbackHTTP.connectTCP(port: port)
        let half = try LoopbackHTTP.connectTCP(port: port)
        defer { close(silent); close(half) }
        let partial = Array("GET /metrics HTTP/1.1\r\nHost: x\r\n".utf8)
        _ = partial.withUnsafeBytes { send(half, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        let answer = try await askServer { try LoopbackHTTP.tcp(port: port, timeout: 5) }
        #expect(answer.status == 200)
        #expect(Exposition(answer.body)[#"histd_program_starts_total{program="a"}"#] == 0)
        await server.stop()
    }

    @Test func malformedOversizedAndHeadRequestsGetTheirAnswers() async throws {
        let metrics = SupervisorMetrics(programs: ["a"], pools: [], version: "t")
        let port = try LoopbackHTTP.freePort()
        let server = try await MetricsServer.start(.tcp(host: "127.0.0.1", port: port), metrics: metrics)
        let garbage = try await askServer { try LoopbackHTTP.tcp(port: port, request: Array("hello\r\n\r\n".utf8)) }
        #expect(garbage.status == 400)
        let huge = Array(("GET /metrics HTTP/1.1\r\nX-Pad: " + String(repeating: "x", count: 20_000) + "\r\n\r\n").utf8)
        #expect(try await askServer { try LoopbackHTTP.tcp(port: port, request: huge) }.status == 431)
        let head = try await askServer { try LoopbackHTTP.tcp(port: port, method: "HEAD") }
        #expect(head.status == 200)
        #expect(head.body.isEmpty && (Int(head.headers["content-length"] ?? "") ?? 0) > 0)
        // A query string and a bare-LF client are still a scrape.
        let bare = try await askServer { try LoopbackHTTP.tcp(port: port, request: Array("GET /metrics?x=1 HTTP/1.0\n\n".utf8)) }
        #expect(bare.status == 200 && !bare.body.isEmpty)
        await server.stop()
    }

    @Test func aUsedPortFailsTheStartWithTheReason() async throws {
        let metrics = SupervisorMetrics(programs: [], pools: [], version: "t")
        let port = try LoopbackHTTP.freePort()
        let first = try await MetricsServer.start(.tcp(host: "127.0.0.1", port: port), metrics: metrics)
        defer { Task { await first.stop() } }
        await #expect(throws: MetricsServer.StartError.self) {
            _ = try await MetricsServer.start(.tcp(host: "127.0.0.1", port: port), metrics: metrics)
        }
        await first.stop()
    }

    @Test func servesOnAUnixSocketAndRemovesItAtStop() async throws {
        let dir = makeDir()
        defer { removeTree(dir) }
        let path = dir + "/metrics.sock"
        let metrics = SupervisorMetrics(programs: ["a"], pools: [], version: "t")
        let server = try await MetricsServer.start(.unix(path: path), metrics: metrics)
        let answer = try await askServer { try LoopbackHTTP.unix(path: path) }
        #expect(answer.status == 200)
        #expect(Exposition(answer.body)[#"histd_program_starts_total{program="a"}"#] == 0)
        await server.stop()
        #expect(access(path, F_OK) != 0)
    }

    @Test func textfileIsReplacedWholeAndLeavesNoTemp() throws {
        let dir = makeDir()
        defer { removeTree(dir) }
        let metrics = SupervisorMetrics(programs: ["a"], pools: [], version: "t")
        let file = MetricsTextfile(path: dir + "/histd.prom", interval: .seconds(1), metrics: metrics)
        #expect(file.writeOnce() == nil)
        metrics.record(HistEvent(program: "a", payload: .spawnFailed(errno: 2, step: "execve", reason: "no such file", workerIndex: nil)))
        #expect(file.writeOnce() == nil)
        let text = try String(contentsOfFile: dir + "/histd.prom", encoding: .utf8)
        #expect(Exposition(Array(text.utf8))[#"histd_program_spawn_failures_total{program="a"}"#] == 1)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["histd.prom"])
        let broken = MetricsTextfile(path: dir + "/gone/histd.prom", interval: .seconds(1), metrics: metrics)
        #expect(broken.writeOnce()?.contains("cannot create") == true)
    }

    @Test func textfileThreadWritesUntilStopped() async throws {
        let dir = makeDir()
        defer { removeTree(dir) }
        let metrics = SupervisorMetrics(programs: ["a"], pools: [], version: "t")
        let file = MetricsTextfile(path: dir + "/histd.prom", interval: .seconds(1), metrics: metrics)
        file.start()
        #expect(await waitUntil { access(dir + "/histd.prom", F_OK) == 0 })
        metrics.record(HistEvent(program: "a", payload: .spawnFailed(errno: 2, step: "execve", reason: "x", workerIndex: nil)))
        // The next rewrite (1 s later) shows the new count.
        let updated = await waitUntil {
            let text = (try? String(contentsOfFile: dir + "/histd.prom", encoding: .utf8)) ?? ""
            return Exposition(Array(text.utf8))[#"histd_program_spawn_failures_total{program="a"}"#] == 1
        }
        file.stop()
        #expect(updated)
        #expect(file.error == nil)
    }
}
