import Foundation
import HistTestSupport
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// `control-flood`: the engine's restart latency (the `restart` scenario: exit stamp to the next
/// start stamp, restart_delay 0) with the control socket idle, then while `clients` connections
/// flood it with `status` requests (each client sends a burst of requests, reads the replies,
/// and reconnects), one client sends garbage lines, and one connects and never reads. The issue's
/// target: the restart target (<= 1 ms) still met while the socket is flooded.
enum ControlFloodScenario {
    static func run(_ ws: Workspace, trials: Int, clients: Int) throws -> ScenarioResult {
        var r = ScenarioResult("control-flood")
        let dir = try ws.runDirectory("control-flood")
        let socket = dir + "/control.sock"
        let extra = ["control_socket = \(toml(socket))"]
        r.info["loadavg_before"] = MetricsScenario.loadAverage()
        let quiet = try RestartScenario.run(ws, trials: trials, name: "restart-control-quiet", supervisorExtra: extra)
        r.info["loadavg_after_quiet"] = MetricsScenario.loadAverage()
        let replies = Tally()
        let flooded = try RestartScenario.run(ws, trials: trials, name: "restart-control-flood", supervisorExtra: extra) { done in
            let group = DispatchGroup()
            for i in 0..<(clients + 2) {
                group.enter()
                Thread {
                    defer { group.leave() }
                    switch i {
                    case clients: garbage(socket, done)
                    case clients + 1: neverReads(socket, done)
                    default: statusFlood(socket, done, replies)
                    }
                }.start()
            }
            group.wait()
        }
        r.info["loadavg_after_flood"] = MetricsScenario.loadAverage()
        for (label, result) in [("socket idle", quiet), ("socket flooded by \(clients) clients", flooded)] {
            if var m = result.measurements.first {
                m.name = "restart E->S, \(label)"
                r.measurements.append(m)
            }
        }
        r.info["status_replies_during_flood"] = "\(replies.count.load(ordering: .relaxed))"
        return r
    }

    /// Replies counted across the flooding threads.
    final class Tally: Sendable {
        let count = Atomic<Int>(0)
    }

    /// Bursts of 50 status requests; reads the 50 reply lines; reconnects when histd closes.
    static func statusFlood(_ path: String, _ done: () -> Bool, _ replies: Tally) {
        let burst = Array(String(repeating: "{\"v\":1,\"cmd\":\"status\"}\n", count: 50).utf8)
        var buf = [UInt8](repeating: 0, count: 65536)
        while !done() {
            guard let client = RawControl(path, receiveTimeout: 2) else { usleep(20_000); continue }
            while !done() {
                guard client.send(burst) else { break }
                var lines = 0
                while lines < 50 {
                    let n = recv(client.fd, &buf, buf.count, 0)
                    if n <= 0 { break }
                    for i in 0..<n where buf[i] == 10 { lines += 1 }
                }
                replies.count.add(lines, ordering: .relaxed)
                if lines < 50 { break }
            }
        }
    }

    /// Garbage bytes and lines that are not JSON, as fast as histd takes them.
    static func garbage(_ path: String, _ done: () -> Bool) {
        let junk = Array("\u{1}\u{2}not json at all {{{\n\"v\":\n".utf8) + [UInt8](repeating: 0xFF, count: 200) + [10]
        var buf = [UInt8](repeating: 0, count: 65536)
        while !done() {
            guard let client = RawControl(path, receiveTimeout: 2) else { usleep(20_000); continue }
            while !done(), client.send(junk) { _ = recv(client.fd, &buf, buf.count, Int32(MSG_DONTWAIT)) }
        }
    }

    /// Sends requests and never reads a reply, until histd gives up on it.
    static func neverReads(_ path: String, _ done: () -> Bool) {
        let request = Array(String(repeating: "{\"v\":1,\"cmd\":\"status\"}\n", count: 100).utf8)
        while !done() {
            guard let client = RawControl(path, receiveTimeout: 2, sendTimeout: 0.2) else { usleep(20_000); continue }
            while !done(), client.send(request) {}
        }
    }
}
