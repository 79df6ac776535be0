import Foundation

/// `spawn`: from just before histd is spawned until every one of N programs has stamped its first S.
enum SpawnScenario {
    static func run(_ ws: Workspace, n: Int, trials: Int) throws -> ScenarioResult {
        let child = try ws.helper("stampchild")
        var totals: [Double] = [], firsts: [Double] = [], stops: [Double] = []
        var incomplete = 0
        for trial in 0..<trials {
            let dir = try ws.runDirectory("spawn\(n)-\(trial)")
            let stampPath = dir + "/stamps"
            let programs = (0..<n).map { HistdRun.Program(name: String(format: "p%04d", $0), argv: [child, stampPath, "\($0)", "pause"]) }
            let histd = try HistdRun(workspace: ws, dir: dir, programs: programs)
            try histd.start()
            defer { histd.stop() }
            let reader = StampReader(path: stampPath)
            var first: [Int: Int64] = [:]
            let deadline = monoNow() + 60_000_000_000
            while monoNow() < deadline && first.count < n {
                if reader.poll() > 0 {
                    for s in reader.stamps where s.kind == "S" && first[s.id] == nil { first[s.id] = s.ns }
                } else {
                    try histd.requireRunning("spawning \(n) programs")
                    sleepSeconds(0.002)
                }
            }
            if first.count == n, let last = first.values.max(), let earliest = first.values.min() {
                totals.append(Double(last - histd.launchedAt) / 1e9)
                firsts.append(Double(earliest - histd.launchedAt) / 1e3 / 1e6)
            } else {
                incomplete += 1
            }
            let stop = histd.stop(timeout: 30)
            if let s = stop.seconds { stops.append(s) }
        }
        var r = ScenarioResult("spawn")
        r.add("launch -> all \(n) started", unit: "s", samples: totals, limit: 0.4, target: "<= 0.4 s median (N=500)")
        r.add("launch -> first child started", unit: "ms", samples: firsts.map { $0 * 1000 })
        r.add("graceful stop of all \(n)", unit: "s", samples: stops)
        r.info["incomplete_trials"] = "\(incomplete)"
        return r
    }
}
