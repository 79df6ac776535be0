import Foundation
import HistTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

extension EndToEnd {
    /// Hostile control clients cannot break histd: each one is answered or cut off by a bound
    /// (line length, timeouts, connection count, output backpressure), and meanwhile the engine
    /// still restarts a crashed program on its backoff schedule.
    @Suite struct ControlHostile {
        static func config(_ ws: Workspace) -> String {
            // restart_delay 1s, factor 2: a replacement later than 2s after the crash would mean the
            // engine missed its first backoff step (the mechanism bound, not a millisecond target).
            ControlConfig.header(ws) + """
                [program.victim]
                command = ["/bin/sleep", "300"]
                restart_delay = "1s"
                backoff_factor = 2
                reset_after = "1s"

                [program.web]
                command = ["/bin/sleep", "300"]

                """
        }

        /// kill -9 the victim's process and return (crash ms, replacement start ms) from the record.
        static func crashAndReplacement(_ ws: Workspace, _ db: HistoryDB) throws -> (Int64, Int64)? {
            let pidBefore = db.intOrZero("SELECT pid FROM process_lifetimes WHERE program = 'victim' AND status = 'running' ORDER BY instance_id DESC LIMIT 1")
            guard pidBefore > 0 else { return nil }
            kill(Int32(pidBefore), SIGKILL)
            var row: (Int64, Int64)?
            E2E.waitUntil(20) {
                let rows = (try? db.rows("""
                    SELECT c.ended_at AS crash, (SELECT MIN(n.started_at) FROM instances n WHERE n.program_id = c.program_id AND n.id > c.id) AS next
                    FROM instances c JOIN programs p ON p.id = c.program_id WHERE p.name = 'victim' AND c.pid = ?
                    """, [pidBefore])) ?? []
                if let r = rows.first, let crash = r["crash"] as Int64?, let next = r["next"] as Int64? { row = (crash, next); return true }
                return false
            }
            return row
        }

        @Test func hostileClientsDoNotBreakHistdAndRestartsStayOnSchedule() throws {
            let ws = try Workspace("hostile")
            defer { ws.cleanup() }
            let config = try ws.write("h.toml", Self.config(ws))
            let histd = try ws.runHistd(config: config)
            let sock = ws.path("run/control.sock")
            let db = HistoryDB(path: ws.path("h.db"))
            #expect(E2E.waitUntil(20) { FileManager.default.fileExists(atPath: sock) && db.intOrZero("SELECT count(*) FROM process_lifetimes WHERE status = 'running'") == 2 },
                    "\(ws.log())")

            // Garbage bytes: an error reply, the connection stays usable.
            let garbage = try #require(RawControl(sock))
            garbage.send([0xff, 0xfe, 0x00, 0x41, 0x7b, 0x0a])
            let g = RawControl.json(garbage.readLine())
            #expect(g?["result"] as? String == "bad_request")
            garbage.send("{\"v\":1,\"cmd\":\"status\"}\n")
            #expect(RawControl.json(garbage.readLine())?["result"] as? String == "done")
            garbage.send("{\"v\":7,\"cmd\":\"status\"}\n")
            #expect(RawControl.json(garbage.readLine())?["result"] as? String == "unsupported_version")

            // A line over 64 KiB: answered line_too_long, then closed.
            let long = try #require(RawControl(sock))
            long.send([UInt8](repeating: 0x61, count: 70 * 1024))
            #expect(RawControl.json(long.readLine())?["result"] as? String == "line_too_long")
            #expect(long.closedByServer(timeout: 10))

            // Half a line, then a close; half a line, then a hang (kept open by us).
            let halfClose = try #require(RawControl(sock))
            halfClose.send("{\"v\":1,\"cmd\":\"sta")
            let hanging = try #require(RawControl(sock))
            hanging.send("{\"v\":1,\"cmd\":\"sta")
            _ = halfClose

            // A client that never reads: 2,000 status requests it never reads replies to.
            let deaf = try #require(RawControl(sock))
            var deafLines = [UInt8]()
            for i in 0..<2000 { deafLines += Array("{\"v\":1,\"id\":\(i),\"cmd\":\"status\"}\n".utf8) }
            var flags = fcntl(deaf.fd, F_GETFL)
            flags |= O_NONBLOCK
            _ = fcntl(deaf.fd, F_SETFL, flags)
            _ = deafLines.withUnsafeBytes { Glibc.send(deaf.fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }

            // 200 concurrent clients, each with one status request; all answered.
            let clients = (0..<200).compactMap { _ in RawControl(sock) }
            #expect(clients.count == 200)
            for c in clients { c.send("{\"v\":1,\"cmd\":\"status\",\"names\":[\"web\"]}\n") }
            let answered = clients.filter { RawControl.json($0.readLine(timeout: 30))?["result"] as? String == "done" }.count
            #expect(answered == 200)

            // A flood of 10,000 requests on one connection, read back in a second thread, while the
            // victim is killed: its replacement still comes on the first backoff step.
            let flood = try #require(RawControl(sock))
            let replies = Counter()
            let reader = Thread {
                while replies.value < 10_000, flood.readLine(timeout: 60) != nil { replies.increment() }
            }
            reader.start()
            var lines = [UInt8]()
            for i in 0..<10_000 { lines += Array("{\"v\":1,\"id\":\(i),\"cmd\":\"status\"}\n".utf8) }
            let batch = lines
            let writer = Thread { flood.send(batch) }
            writer.start()
            let timing = try #require(try Self.crashAndReplacement(ws, db), "\(ws.log())")
            #expect(timing.1 - timing.0 < 2000, "replacement \(timing.1 - timing.0) ms after the crash: later than the second backoff step")
            #expect(E2E.waitUntil(120) { replies.value == 10_000 }, "\(replies.value) of 10000 replies")

            // After all that: histd still acts and answers.
            let r = try E2E.run(E2E.histctl, ["restart", "web"], env: ["HISTD_SOCKET": sock], timeout: 60)
            #expect(r.status == 0 && r.stdout.hasPrefix("web: restarted"), "\(r.stdout)\(r.stderr)")
            #expect(histd.isRunning)
            // The hanging half line is cut off by the partial-line timeout (10 s).
            #expect(hanging.closedByServer(timeout: 30))
            _ = deaf
            #expect(histd.stop() == 0, "\(ws.log())")
        }
    }
}

final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var n = 0
    var value: Int { lock.lock(); defer { lock.unlock() }; return n }
    func increment() { lock.lock(); n += 1; lock.unlock() }
}
