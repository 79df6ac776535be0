import Foundation
import HistModel
import HistProc

/// `sampler`: HistProc's cost of one sweep over `procs` idle processes that histbench starts itself
/// (stampchild in pause mode, no stamps). Three measurements, each timed over the whole sweep:
/// - `TreeSampler.sample(roots)`: what histd runs every snapshot_interval (per root: stat, the
///   children file, the fd count; tree totals), one long-lived sampler so its fd cache is warm, as in histd;
/// - `ProcFS.sweep(pids:, includeStatus: true)`: stat + statm + status per process, fresh reader;
/// - the same without status.
enum SamplerScenario {
    static func run(_ ws: Workspace, procs: Int, trials: Int) throws -> ScenarioResult {
        let child = try ws.helper("stampchild")
        var pids: [Int32] = []
        defer { Processes.shared.killEverything() }
        progress("sampler: starting \(procs) idle processes")
        for i in 0..<procs { pids.append(try Processes.shared.spawn([child, "-", "\(i)", "pause"])) }
        // Wait until every one has exec'd (its exe is stampchild), bounded.
        let deadline = monoNow() + 30_000_000_000
        while monoNow() < deadline, pids.contains(where: { ProcInfo.exe($0) != child }) { sleepSeconds(0.05) }
        var roots: [(instance: InstanceID, identity: ProcessIdentity)] = []
        for (i, pid) in pids.enumerated() {
            if let st = ProcInfo.stat(pid) { roots.append((InstanceID(i), ProcessIdentity(pid: pid, startTicks: st.startTicks))) }
        }
        guard roots.count == procs else { throw Workspace.Failure(description: "only \(roots.count) of \(procs) processes are up") }

        let sampler = TreeSampler()
        _ = sampler.sample(roots) // warm-up: opens and caches the fds, as histd's first sweep does
        var tree: [Double] = [], sampled = 0
        for _ in 0..<trials {
            let t0 = monoNow()
            let out = sampler.sample(roots)
            tree.append(Double(monoNow() - t0) / 1e6)
            sampled = out.count
        }
        // The same sweep with every process read in full (stat, children, fd count), as before quiet
        // processes were skipped: the A/B of that change in one sitting.
        let always = TreeSampler(skipQuiet: false)
        _ = always.sample(roots)
        var inFull: [Double] = []
        for _ in 0..<trials {
            let t0 = monoNow()
            _ = always.sample(roots)
            inFull.append(Double(monoNow() - t0) / 1e6)
        }
        let fdsKept = sampler.procfs.cachedFDCount, fdsKeptInFull = always.procfs.cachedFDCount
        var full: [Double] = [], bare: [Double] = [], read = 0
        let fs = ProcFS()
        _ = fs.sweep(pids: pids, includeStatus: true)
        for _ in 0..<trials {
            var t0 = monoNow()
            read = fs.sweep(pids: pids, includeStatus: true).read
            full.append(Double(monoNow() - t0) / 1e6)
            t0 = monoNow()
            _ = fs.sweep(pids: pids, includeStatus: false)
            bare.append(Double(monoNow() - t0) / 1e6)
        }
        Processes.shared.killEverything()
        var r = ScenarioResult("sampler")
        r.add("TreeSampler.sample, \(procs) roots", unit: "ms", samples: tree, limit: 5, target: "<= 5 ms median")
        r.add("TreeSampler.sample, \(procs) roots, every process read in full", unit: "ms", samples: inFull)
        r.info["fds kept by the sampler"] = "\(fdsKept) (skipping quiet processes), \(fdsKeptInFull) (reading in full)"
        r.add("ProcFS.sweep stat+statm+status", unit: "ms", samples: full, limit: 5, target: "<= 5 ms median")
        r.add("ProcFS.sweep stat+statm", unit: "ms", samples: bare)
        r.info["samples_per_tree_sweep"] = "\(sampled)"
        r.info["processes_read_per_sweep"] = "\(read)"
        return r
    }
}
