import Foundation

/// `restart`: one program that exits 1 at once, restart_delay 0. Time = E stamp of instance k to the
/// S stamp of instance k+1 (kernel exit, histd's reap, its bookkeeping, fork+exec, the child's start).
enum RestartScenario {
    /// `supervisorExtra` and `during` let the metrics scenario run the same measurement with the
    /// metrics endpoint on and scraped (`during` runs once histd is up, until the measurement ends).
    /// `killMode`: the program's kill_mode ("tree", the default, sweeps what remains of each instance
    /// before the restart; "process" does not), nil = the key left out.
    static func run(_ ws: Workspace, trials: Int, warmup: Int = 2, name: String = "restart",
                    supervisorExtra: [String] = [], killMode: String? = nil, during: (@Sendable (_ done: @escaping @Sendable () -> Bool) -> Void)? = nil) throws -> ScenarioResult {
        let child = try ws.helper("stampchild")
        let dir = try ws.runDirectory(name)
        let stampPath = dir + "/stamps"
        let histd = try HistdRun(workspace: ws, dir: dir, programs: [.init(name: "p0000", argv: [child, stampPath, "0", "exit", "0"],
                                                                          extra: killMode.map { ["kill_mode = \(toml($0))"] } ?? [])],
                                 supervisorExtra: supervisorExtra)
        try histd.start()
        defer { histd.stop() }
        let finished = Finished()
        defer { finished.set() }
        if let during { Thread { during { finished.isSet } }.start() }
        let reader = StampReader(path: stampPath)
        let need = warmup + trials + 1
        let deadline = monoNow() + Int64((20 + Double(need) * 0.5) * 1e9)
        let t0 = monoNow()
        while monoNow() < deadline {
            reader.poll()
            if reader.stamps.lazy.filter({ $0.kind == "S" }).count >= need { break }
            try histd.requireRunning("waiting for restarts")
            sleepSeconds(0.02)
        }
        finished.set()
        let stop = histd.stop()
        reader.poll()
        let elapsed = Double(monoNow() - t0) / 1e9

        var gaps: [Double] = [], lifetimes: [Double] = []
        var lastE: Int64?, lastS: Int64?
        for s in reader.stamps {
            if s.kind == "S" {
                if let e = lastE { gaps.append(Double(s.ns - e) / 1e6) }
                lastS = s.ns; lastE = nil
            } else if s.kind == "E" {
                if let st = lastS { lifetimes.append(Double(s.ns - st) / 1e6) }
                lastE = s.ns
            }
        }
        let allGaps = gaps
        gaps = Array(gaps.dropFirst(warmup).prefix(trials))
        var r = ScenarioResult(name)
        r.add("exit -> next start (E->S)", unit: "ms", samples: gaps, limit: 1.0, target: "<= 1 ms median")
        r.add("all cycles seen (incl. warm-up)", unit: "ms", samples: allGaps)
        r.add("child lifetime S->E", unit: "ms", samples: lifetimes)
        let starts = reader.stamps.filter { $0.kind == "S" }.count
        r.info["starts_seen"] = "\(starts) in \(fmt(elapsed)) s (\(fmt(Double(starts) / elapsed)) restarts/s)"
        r.info["warmup_dropped"] = "\(warmup)"
        r.info["histd"] = ws.histd
        r.info["kill_mode"] = killMode ?? "default (tree)"
        r.info["graceful_stop_s"] = stop.seconds.map { fmt($0) } ?? "timed out"
        r.info["leftovers_killed"] = "\(stop.leftovers)"
        r.info["complete"] = gaps.count >= trials ? "yes" : "no (\(gaps.count) of \(trials))"
        return r
    }
}

/// A flag one thread sets and another polls.
final class Finished: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    func set() { lock.lock(); value = true; lock.unlock() }
    var isSet: Bool { lock.lock(); defer { lock.unlock() }; return value }
}
