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
        // O_CLOEXEC, not Foundation's write: a child that another test (in this same process) forks while
        // the script is open for writing would keep it open, and exec of the script fails with ETXTBSY.
        let fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, executable ? 0o755 : 0o644)
        guard fd >= 0 else { throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: p]) }
        defer { close(fd) }
        let ok = text.utf8CString.withUnsafeBufferPointer { buf in
            Glibc.write(fd, buf.baseAddress, buf.count - 1) == buf.count - 1
        }
        guard ok else { throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: p]) }
        if executable { chmod(p, 0o755) }  // the mode of an existing file, and past the umask
        return p
    }

    /// Starts `histd ARGS` with this workspace's marker; stdout+stderr go to `logName` in the dir.
    /// `fileLimit`: run it under `ulimit -n N` (soft and hard), through /bin/sh, which execs histd in place.
    func startHistd(_ args: [String], logName: String = "histd.log", cwd: String? = nil, fileLimit: Int? = nil) throws -> HistdProcess {
        let h = try HistdProcess(args: args, environment: [Self.markerKey: markerValue],
                                 log: path(logName), cwd: cwd ?? dir, fileLimit: fileLimit)
        started.append(h)
        return h
    }

    /// Starts another built binary (histd-ship) the same way, marked and killed by cleanup().
    func startBinary(_ binary: String, _ args: [String], logName: String) throws -> HistdProcess {
        let h = try HistdProcess(args: args, environment: [Self.markerKey: markerValue], log: path(logName), cwd: dir, binary: binary)
        started.append(h)
        return h
    }

    /// `histd run --config CONFIG` (the config's db and log_dir are relative to its folder).
    func runHistd(config: String, extra: [String] = [], logName: String = "histd.log", fileLimit: Int? = nil) throws -> HistdProcess {
        try startHistd(["run", "--config", config, "--log-level", "info"] + extra, logName: logName, fileLimit: fileLimit)
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

/// One running `histd` started by a test, with posix_spawn and reaped with waitpid by pid: not
/// Foundation.Process, whose exit notice here arrives about 1.5 s after the child died.
final class HistdProcess {
    let pid: Int32
    /// The raw wait status once reaped.
    private var waitStatus: Int32?

    init(args: [String], environment extra: [String: String], log: String, cwd: String, fileLimit: Int? = nil,
         binary: String = E2E.histd) throws {
        var env = ProcessInfo.processInfo.environment
        env.removeValue(forKey: "HISTD_DB")
        for (k, v) in extra { env[k] = v }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        // glibc 2.29+ has posix_spawn_file_actions_addchdir_np, but Swift's Glibc module does not export it.
        typealias AddChdir = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, UnsafePointer<CChar>) -> Int32
        guard let addChdir = dlsym(nil, "posix_spawn_file_actions_addchdir_np") else {
            throw E2EError("posix_spawn_file_actions_addchdir_np is missing (glibc < 2.29)")
        }
        _ = cwd.withCString { unsafeBitCast(addChdir, to: AddChdir.self)(&actions, $0) }
        // The test's threads block most signals; histd must start with a clean mask and default dispositions.
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        var empty = sigset_t(), all = sigset_t()
        sigemptyset(&empty)
        sigfillset(&all)
        sigdelset(&all, SIGKILL)
        sigdelset(&all, SIGSTOP)
        posix_spawnattr_setsigmask(&attr, &empty)
        posix_spawnattr_setsigdefault(&attr, &all)
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        let argv = fileLimit.map { ["/bin/sh", "-c", "ulimit -n \($0) && exec \"$0\" \"$@\"", binary] + args } ?? [binary] + args
        let executable = fileLimit == nil ? binary : "/bin/sh"
        let envp = env.map { "\($0.key)=\($0.value)" }
        var cArgv = argv.map { strdup($0) } + [nil]
        var cEnv = envp.map { strdup($0) } + [nil]
        defer { for p in cArgv + cEnv { free(p) } }
        var child: pid_t = 0
        let rc = posix_spawn(&child, executable, &actions, &attr, &cArgv, &cEnv)
        guard rc == 0 else { throw E2EError("posix_spawn histd: \(String(cString: strerror(rc)))") }
        pid = child
    }

    deinit { kill9() }

    /// Reaps it if it has exited (never blocks).
    private func poll() {
        guard waitStatus == nil else { return }
        var status: Int32 = 0
        let r = waitpid(pid, &status, WNOHANG)
        if r == pid { waitStatus = status } else if r < 0 && errno == ECHILD { waitStatus = -1 }
    }

    var isRunning: Bool { poll(); return waitStatus == nil }

    /// The exit code when it exited normally; nil while running or when killed by a signal.
    var exitCode: Int32? {
        poll()
        guard let s = waitStatus, s >= 0, s & 0x7f == 0 else { return nil }
        return (s >> 8) & 0xff
    }

    /// How it ended, for failure messages: "running", "exit 0", "killed by signal 9", or "reaped
    /// elsewhere" (ECHILD: something else in the test process waited for it).
    var ending: String {
        poll()
        guard let s = waitStatus else { return "running" }
        if s < 0 { return "reaped elsewhere" }
        return s & 0x7f == 0 ? "exit \((s >> 8) & 0xff)" : "killed by signal \(s & 0x7f)"
    }

    /// Waits up to `timeout` seconds; true when it has exited.
    func waitForExit(timeout: Double) -> Bool {
        E2E.waitUntil(timeout, poll: 0.002) { !isRunning }
    }

    /// SIGTERM, wait up to `timeout` s for a clean shutdown; SIGKILL if it did not stop.
    /// Returns the exit code when it exited by itself, nil when it had to be killed or died by a signal.
    @discardableResult
    func stop(timeout: Double = 20) -> Int32? {
        if isRunning {
            kill(pid, SIGTERM)
            guard waitForExit(timeout: timeout) else { kill9(); return nil }
        }
        return exitCode
    }

    func kill9() {
        guard isRunning else { return }
        kill(pid, SIGKILL)
        _ = waitForExit(timeout: 10)
    }
}
