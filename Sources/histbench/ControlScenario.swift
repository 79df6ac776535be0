import Foundation
#if canImport(Glibc)
import Glibc
import HistSys
#endif

/// `control`: N idle programs under histd with its control socket; the wall time of a whole
/// `histctl status` (live, N rows) and of `histctl restart p0000` (the round trip: request, stop,
/// start, answer), each a fresh histctl process, as an operator would run them. The load average is
/// reported beside them: on a shared box the numbers are raw, not targets.
enum ControlScenario {
    static func run(_ ws: Workspace, n: Int, trials: Int) throws -> ScenarioResult {
        let histctl = (ws.histd as NSString).deletingLastPathComponent + "/histctl"
        guard FileManager.default.isExecutableFile(atPath: histctl) else {
            throw Workspace.Failure(description: "no histctl next to \(ws.histd)")
        }
        let dir = try ws.runDirectory("control\(n)")
        let socket = dir + "/control.sock"
        let programs = (0..<n).map { HistdRun.Program(name: String(format: "p%04d", $0), argv: ["/bin/sleep", "3600"]) }
        let histd = try HistdRun(workspace: ws, dir: dir, programs: programs, recording: false, restartDelayMs: 100,
                                 supervisorExtra: ["control_socket = \(toml(socket))"])
        try histd.start()
        defer { histd.stop(timeout: 30) }
        // Ready: the live status lists N running units.
        let deadline = monoNow() + 60_000_000_000
        var ready = false
        while monoNow() < deadline {
            try histd.requireRunning("starting \(n) programs")
            if let out = try? capture([histctl, "status", "--socket", socket]), out.split(separator: "\n").filter({ $0.contains(" running ") }).count == n {
                ready = true
                break
            }
            sleepSeconds(0.2)
        }
        guard ready else { throw Workspace.Failure(description: "histd did not report \(n) running programs in 60 s") }
        var status: [Double] = [], restart: [Double] = [], baseline: [Double] = []
        for _ in 0..<trials {
            baseline.append(try timed([histctl, "--version"]) * 1000)
        }
        for _ in 0..<trials {
            status.append(try timed([histctl, "status", "--socket", socket]) * 1000)
        }
        for _ in 0..<trials {
            restart.append(try timed([histctl, "restart", "p0000", "--socket", socket]) * 1000)
        }
        var r = ScenarioResult("control")
        r.add("histctl status, live, \(n) programs (wall)", unit: "ms", samples: status, target: "<= 20 ms (quiet box)")
        r.add("histctl restart round trip (wall)", unit: "ms", samples: restart)
        r.add("histctl --version (process start, no socket)", unit: "ms", samples: baseline)
        r.info["loadavg"] = (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "?"
        r.info["histctl"] = histctl
        return r
    }

    /// Runs argv to completion; its wall time in seconds. Throws on a non-zero exit.
    static func timed(_ argv: [String]) throws -> Double {
        let t0 = monoNow()
        let pid = try Processes.shared.spawn(argv, output: nil, newSession: false)
        var status: Int32 = 0
        _ = Sys.retrying { waitpid(pid, &status, 0) }
        let t = Double(monoNow() - t0) / 1e9
        guard status == 0 else { throw Workspace.Failure(description: "\(argv.joined(separator: " ")) exited with status \(status)") }
        return t
    }

    /// Runs argv and returns its stdout.
    static func capture(_ argv: [String]) throws -> String {
        let out = NSTemporaryDirectory() + "histbench-ctl-\(getpid()).out"
        unlink(out)
        let pid = try Processes.shared.spawn(argv, output: out, newSession: false)
        var status: Int32 = 0
        _ = Sys.retrying { waitpid(pid, &status, 0) }
        defer { unlink(out) }
        return (try? String(contentsOfFile: out, encoding: .utf8)) ?? ""
    }
}
