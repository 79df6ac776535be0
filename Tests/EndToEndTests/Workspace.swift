import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A temp dir for one test, plus a unique marker that every process the test starts carries in its
/// environment (histd passes its environment on to its children, and they to theirs). `cleanup()`
/// kills, by pid, every histd this workspace started and every process that carries the marker,
/// even when the test failed half way.
final class Workspace {
    let dir: String
    /// `HISTD_E2E_MARKER=<uuid>`: in /proc/PID/environ of everything this test spawned.
    let markerValue: String
    static let markerKey = "HISTD_E2E_MARKER"
    private var started: [HistdProcess] = []

    init(_ label: String) throws {
        let id = UUID().uuidString.prefix(8).lowercased()
        dir = NSTemporaryDirectory() + "histd-e2e-\(label)-\(id)"
        markerValue = "e2e-\(label)-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    func path(_ name: String) -> String { "\(dir)/\(name)" }

    @discardableResult
    func write(_ name: String, _ text: String, executable: Bool = false) throws -> String {
        let p = path(name)
        try text.write(toFile: p, atomically: true, encoding: .utf8)
        if executable { chmod(p, 0o755) }
        return p
    }

    /// Starts `histd ARGS` with this workspace's marker; stdout+stderr go to `logName` in the dir.
    func startHistd(_ args: [String], logName: String = "histd.log", cwd: String? = nil) throws -> HistdProcess {
        let h = try HistdProcess(args: args, environment: [Self.markerKey: markerValue],
                                 log: path(logName), cwd: cwd ?? dir)
        started.append(h)
        return h
    }

    /// `histd run --config CONFIG` (the config's db and log_dir are relative to its folder).
    func runHistd(config: String, extra: [String] = [], logName: String = "histd.log") throws -> HistdProcess {
        try startHistd(["run", "--config", config, "--log-level", "info"] + extra, logName: logName)
    }

    /// Processes alive now that carry this workspace's marker (in environ or cmdline).
    func markedProcesses() -> [ProcInfo] {
        Procfs.allPIDs().compactMap { pid -> ProcInfo? in
            guard pid != getpid(), Procfs.carries(pid: pid, marker: markerValue, or: dir) else { return nil }
            return Procfs.info(pid)
        }.filter { $0.state != "Z" }
    }

    /// SIGKILL, by pid, every histd started here and every marked process; waits until they're gone.
    func killEverything() {
        for h in started { h.kill9() }
        for _ in 0..<50 {
            let left = markedProcesses()
            if left.isEmpty { break }
            for p in left { kill(p.pid, SIGKILL) }
            usleep(20_000)
        }
        for h in started { _ = h.waitForExit(timeout: 5) }
    }

    /// Kills what is left and removes the dir. Call it in a `defer`.
    func cleanup(keepDir: Bool = false) {
        killEverything()
        if !keepDir { try? FileManager.default.removeItem(atPath: dir) }
    }

    /// The histd log(s), for failure messages.
    func log(_ name: String = "histd.log") -> String {
        (try? String(contentsOfFile: path(name), encoding: .utf8)) ?? "(no \(name))"
    }
}

/// One running `histd` started by a test.
final class HistdProcess {
    let process: Process
    let pid: Int32

    init(args: [String], environment extra: [String: String], log: String, cwd: String) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: E2E.histd)
        p.arguments = args
        p.currentDirectoryURL = URL(fileURLWithPath: cwd)
        var env = ProcessInfo.processInfo.environment
        env.removeValue(forKey: "HISTD_DB")
        for (k, v) in extra { env[k] = v }
        p.environment = env
        FileManager.default.createFile(atPath: log, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        handle.seekToEndOfFile()
        p.standardOutput = handle
        p.standardError = handle
        p.standardInput = FileHandle.nullDevice
        try p.run()
        try? handle.close()
        process = p
        pid = p.processIdentifier
    }

    var isRunning: Bool { process.isRunning }

    /// Waits up to `timeout` seconds; true when it has exited.
    func waitForExit(timeout: Double) -> Bool {
        E2E.waitUntil(timeout, poll: 0.01) { !process.isRunning }
    }

    /// SIGTERM, wait up to `timeout` s for a clean shutdown; SIGKILL if it did not stop.
    /// Returns the exit status when it exited by itself, nil when it had to be killed.
    @discardableResult
    func stop(timeout: Double = 20) -> Int32? {
        guard process.isRunning else { return process.terminationReason == .exit ? process.terminationStatus : nil }
        kill(pid, SIGTERM)
        if waitForExit(timeout: timeout) {
            return process.terminationReason == .exit ? process.terminationStatus : nil
        }
        kill9()
        return nil
    }

    func kill9() {
        guard process.isRunning else { return }
        kill(pid, SIGKILL)
        _ = waitForExit(timeout: 5)
    }
}
