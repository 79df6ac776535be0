import Foundation

/// `overhead`: histd's own CPU and memory with N idle children. The supervisor tree is histd plus
/// every descendant that is not the workload (its /proc/PID/exe is not stampchild), so a helper
/// process histd might fork is counted. CPU from /proc/PID/task/*/schedstat (ns), as % of one core;
/// PSS from /proc/PID/smaps_rollup. Measured after all N are up and 5 s of settling.
enum OverheadScenario {
    static func run(_ ws: Workspace, counts: [Int], recording: [Bool], duration: Double) throws -> ScenarioResult {
        let child = try ws.helper("stampchild")
        var r = ScenarioResult("overhead")
        for n in counts {
            for rec in recording {
                let label = "N=\(n) recording \(rec ? "on" : "off")"
                progress("overhead \(label), \(Int(duration)) s")
                let m = try measure(ws, child: child, n: n, recording: rec, duration: duration)
                let cpuTarget: Double? = n == 500 ? (rec ? 0.5 : 0.01) : nil
                r.add("CPU % of one core, \(label)", unit: "%", value: m.cpuPercent, limit: cpuTarget,
                      target: cpuTarget.map { "<= \($0)%" })
                r.add("CPU % per window, \(label)", unit: "%", samples: m.windows)
                r.add("PSS, \(label)", unit: "MiB", value: m.pssMiB, limit: 25, target: "<= 25 MiB")
                r.add("RSS, \(label)", unit: "MiB", value: m.rssMiB)
                r.info["tree, \(label)"] = "\(m.processes) supervisor process(es), \(m.children) workload children, CPU ticks cross-check \(fmt(m.tickPercent))%, box busy \(fmt(m.boxBusy))%"
            }
        }
        r.info["duration_s"] = "\(duration) after spawn + 5 s settle"
        return r
    }

    struct Result {
        var cpuPercent: Double
        var tickPercent: Double
        var windows: [Double]
        var pssMiB: Double
        var rssMiB: Double
        var processes: Int
        var children: Int
        var boxBusy: Double
    }

    static func measure(_ ws: Workspace, child: String, n: Int, recording: Bool, duration: Double) throws -> Result {
        let dir = try ws.runDirectory("overhead\(n)-\(recording ? "on" : "off")")
        let stampPath = dir + "/stamps"
        let programs = (0..<n).map { HistdRun.Program(name: String(format: "p%04d", $0), argv: [child, stampPath, "\($0)", "pause"]) }
        let histd = try HistdRun(workspace: ws, dir: dir, programs: programs, recording: recording)
        try histd.start()
        defer { histd.stop() }
        let reader = StampReader(path: stampPath)
        var ids = Set<Int>()
        let deadline = monoNow() + 60_000_000_000
        while ids.count < n && monoNow() < deadline {
            reader.poll()
            for s in reader.stamps where s.kind == "S" { ids.insert(s.id) }
            try histd.requireRunning("spawning")
            sleepSeconds(0.05)
        }
        guard ids.count == n else { throw HistdRun.Failure(description: "only \(ids.count) of \(n) children started") }
        sleepSeconds(5)

        let tree = supervisorTree(histd.pid, workload: child)
        let children = ProcInfo.descendants(of: histd.pid).count - (tree.count - 1)
        func cpu() -> UInt64 { tree.reduce(0) { $0 + (ProcInfo.cpuNanoseconds($1) ?? 0) } }
        func ticks() -> UInt64 { tree.reduce(0) { acc, pid in acc + (ProcInfo.stat(pid).map { $0.utime + $0.stime } ?? 0) } }
        let box0 = ProcInfo.systemTimes()
        let c0 = cpu(), k0 = ticks(), t0 = monoNow()
        var windows: [Double] = []
        let window = min(10, duration / 6)
        var lastC = c0, lastT = t0
        while Double(monoNow() - t0) / 1e9 < duration - 0.001 {
            let remaining = duration - Double(monoNow() - t0) / 1e9
            sleepSeconds(min(window, remaining))
            try histd.requireRunning("measuring")
            let c = cpu(), t = monoNow()
            windows.append(Double(c - lastC) / Double(t - lastT) * 100)
            lastC = c; lastT = t
        }
        let c1 = cpu(), k1 = ticks(), t1 = monoNow()
        let box1 = ProcInfo.systemTimes()
        var pss: UInt64 = 0, rss: UInt64 = 0
        for pid in tree { if let m = ProcInfo.memoryKiB(pid) { pss += m.pss; rss += m.rss } }
        let wall = Double(t1 - t0)
        let boxBusy: Double = {
            guard let a = box0, let b = box1, b.total > a.total else { return .nan }
            return Double(b.busy - a.busy) / Double(b.total - a.total) * 100
        }()
        return Result(cpuPercent: Double(c1 - c0) / wall * 100,
                      tickPercent: Double(k1 - k0) * 1e9 / 100 / wall * 100,
                      windows: windows, pssMiB: Double(pss) / 1024, rssMiB: Double(rss) / 1024,
                      processes: tree.count, children: children, boxBusy: boxBusy)
    }

    /// histd and its descendants that are not the workload binary.
    static func supervisorTree(_ root: Int32, workload: String) -> [Int32] {
        [root] + ProcInfo.descendants(of: root).filter { ProcInfo.exe($0.pid) != workload }.map(\.pid)
    }
}
