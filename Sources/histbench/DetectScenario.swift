import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// `detect`: kill -9 a long-running child; time from just before kill(2) to the replacement's S stamp.
enum DetectScenario {
    static func run(_ ws: Workspace, trials: Int, hold: Double) throws -> ScenarioResult {
        let child = try ws.helper("stampchild")
        let dir = try ws.runDirectory("detect")
        let stampPath = dir + "/stamps"
        let histd = try HistdRun(workspace: ws, dir: dir, programs: [.init(name: "p0000", argv: [child, stampPath, "0", "pause"])])
        try histd.start()
        defer { histd.stop() }
        let reader = StampReader(path: stampPath)
        var rng = SystemRandomNumberGenerator()
        var latencies: [Double] = [], misses = 0

        let firstDeadline = monoNow() + 30_000_000_000
        while reader.stamps.isEmpty && monoNow() < firstDeadline {
            reader.poll()
            try histd.requireRunning("waiting for the first start")
            sleepSeconds(0.01)
        }
        for _ in 0..<trials {
            guard let victim = reader.stamps.last(where: { $0.kind == "S" }) else { break }
            // Let the victim run a while, de-phased from anything periodic in histd.
            sleepSeconds(hold + Double.random(in: 0...0.3, using: &rng))
            // Only kill a process that is really histd's child and still the same one.
            guard let st = ProcInfo.stat(victim.pid), st.ppid == histd.pid, st.state != "Z" else {
                misses += 1
                continue
            }
            let count = reader.stamps.count
            let t0 = monoNow()
            kill(victim.pid, SIGKILL)
            let deadline = t0 + 5_000_000_000
            var got: Stamp?
            while monoNow() < deadline {
                reader.poll()
                if let s = reader.stamps[count...].first(where: { $0.kind == "S" && $0.pid != victim.pid }) { got = s; break }
                sleepSeconds(0.0005)
            }
            if let got { latencies.append(Double(got.ns - t0) / 1e6) } else { misses += 1 }
            try histd.requireRunning("detect trials")
        }
        let stop = histd.stop()
        var r = ScenarioResult("detect")
        r.add("kill -9 -> replacement start", unit: "ms", samples: latencies, limit: 1.0, target: "<= 1 ms median")
        r.info["misses"] = "\(misses)"
        r.info["hold_s"] = "\(hold) + U(0, 0.3)"
        r.info["graceful_stop_s"] = stop.seconds.map { fmt($0) } ?? "timed out"
        r.info["leftovers_killed"] = "\(stop.leftovers)"
        return r
    }
}
