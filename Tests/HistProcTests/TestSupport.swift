#if canImport(Glibc)
import Glibc
#endif
import CShim
import HistModel
import HistProc

/// Small helpers for tests that run real processes. Everything is by pid; nothing kills by name. A process
/// that is not (or may not stay) this test's own child is killed by identity: HistTestSupport's PinnedProcess.
enum TestProc {
    struct SpawnError: Error, CustomStringConvertible {
        var step: String
        var errno: Int32
        var description: String { "spawn failed at \(step): errno \(errno)" }
    }

    /// Spawns argv with histd_spawn (signal mask reset, optional setsid and cgroups).
    static func spawn(_ argv: [String], newSession: Bool = false, cgroupProcs: [String] = []) throws -> pid_t {
        var cArgs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        var cGroups: [UnsafePointer<CChar>?] = cgroupProcs.map { UnsafePointer(strdup($0)) } + [nil]
        defer {
            for p in cArgs { free(p) }
            for p in cGroups { free(UnsafeMutablePointer(mutating: p)) }
        }
        var childErrno: Int32 = 0
        var step: UnsafePointer<CChar>?
        let pid = cArgs.withUnsafeMutableBufferPointer { args in
            cGroups.withUnsafeMutableBufferPointer { groups in
                var opts = histd_spawn_opts()
                opts.path = UnsafePointer(args[0])
                opts.argv = UnsafePointer(args.baseAddress!)
                opts.envp = UnsafePointer(environ)
                opts.cwd = nil
                opts.stdin_fd = -1
                opts.stdout_fd = -1
                opts.stderr_fd = -1
                opts.new_session = newSession ? 1 : 0
                opts.cgroup_procs = cgroupProcs.isEmpty ? nil : UnsafePointer(groups.baseAddress!)
                opts.pdeathsig = 0
                return histd_spawn(&opts, &childErrno, &step)
            }
        }
        guard pid > 0 else { throw SpawnError(step: step.map { String(cString: $0) } ?? "?", errno: childErrno) }
        return pid
    }

    /// SIGKILL and reap one of our own children (ignores errors: it may be gone already).
    static func killAndReap(_ pid: pid_t) {
        guard pid > 0 else { return }
        kill(pid, SIGKILL)
        _ = waitExit(pid, timeout: 5)
    }

    /// Waits for our child to exit; returns the raw wait status, or nil on timeout.
    static func waitExit(_ pid: pid_t, timeout seconds: Double) -> Int32? {
        var status: Int32 = 0
        let deadline = MonotonicInstant.now().adding(.milliseconds(Int64(seconds * 1000)))
        while MonotonicInstant.now() < deadline {
            let r = waitpid(pid, &status, WNOHANG)
            if r == pid { return status }
            if r < 0 && errno != EINTR { return nil }
            usleep(10_000)
        }
        return nil
    }

    /// Polls `condition` every 20 ms until it holds or `seconds` pass.
    @discardableResult
    static func eventually(_ seconds: Double = 5, _ condition: () -> Bool) -> Bool {
        let deadline = MonotonicInstant.now().adding(.milliseconds(Int64(seconds * 1000)))
        while MonotonicInstant.now() < deadline {
            if condition() { return true }
            usleep(20_000)
        }
        return condition()
    }

    /// A fresh temporary directory; remove it with `removeTree`.
    static func tempDir(_ tag: String) -> String {
        var template = Array("/tmp/histproc-\(tag)-XXXXXX".utf8CString)
        let path = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
        return path
    }

    static func writeFile(_ path: String, _ text: String) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        precondition(fd >= 0, "cannot create \(path)")
        var bytes = Array(text.utf8)
        if !bytes.isEmpty { _ = write(fd, &bytes, bytes.count) }
        close(fd)
    }

    static func readFile(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = read(fd, &chunk, chunk.count)
            if n <= 0 { break }
            out.append(contentsOf: chunk[0..<n])
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func makeDir(_ path: String) { mkdir(path, 0o755) }

    /// rm -r of a test's own temp dir (no subprocess).
    static func removeTree(_ path: String) {
        guard path.hasPrefix("/tmp/histproc-") else { return }
        if let dir = opendir(path) {
            var names: [String] = []
            while let e = readdir(dir) {
                let name = withUnsafePointer(to: &e.pointee.d_name) {
                    $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
                }
                if name != "." && name != ".." { names.append(name) }
            }
            closedir(dir)
            for n in names {
                let child = path + "/" + n
                if unlink(child) != 0 { removeTree(child) }
            }
        }
        rmdir(path)
    }
}

/// A fake /proc tree in a temp dir: `addProcess` writes PID/stat (and friends).
final class FakeProc {
    let root: String

    init() {
        root = TestProc.tempDir("fakeproc")
        TestProc.writeFile(root + "/stat", "cpu  1 2 3 4\nbtime 1700000000\nprocesses 42\n")
    }

    deinit { TestProc.removeTree(root) }

    /// A stat line with the fields histd reads; everything else is zero.
    static func statLine(pid: Int32, comm: String, state: Character = "S", ppid: Int32, pgrp: Int32? = nil,
                         session: Int32? = nil, flags: UInt32 = 0, utime: UInt64 = 0, stime: UInt64 = 0,
                         cutime: UInt64 = 0, cstime: UInt64 = 0, threads: Int32 = 1, startTicks: UInt64 = 1000,
                         vsize: UInt64 = 4096 * 100, rssPages: UInt64 = 10, extraFields: Int = 28) -> String {
        var f: [String] = ["\(pid)", "(\(comm))", String(state), "\(ppid)", "\(pgrp ?? pid)", "\(session ?? pid)",
                           "0", "-1", "\(flags)", "0", "0", "0", "0", "\(utime)", "\(stime)", "\(cutime)",
                           "\(cstime)", "20", "0", "\(threads)", "0", "\(startTicks)", "\(vsize)", "\(rssPages)"]
        for _ in 0..<extraFields { f.append("0") }
        return f.joined(separator: " ") + "\n"
    }

    func addProcess(pid: Int32, comm: String, state: Character = "S", ppid: Int32, pgrp: Int32? = nil,
                    session: Int32? = nil, flags: UInt32 = 0, startTicks: UInt64 = 1000, rssPages: UInt64 = 10,
                    cmdline: String? = nil, uid: UInt32 = 0, children: [Int32] = []) {
        let dir = root + "/\(pid)"
        TestProc.makeDir(dir)
        TestProc.writeFile(dir + "/stat", Self.statLine(pid: pid, comm: comm, state: state, ppid: ppid, pgrp: pgrp,
                                                        session: session, flags: flags, startTicks: startTicks,
                                                        rssPages: rssPages))
        TestProc.writeFile(dir + "/statm", "100 \(rssPages) 5 1 0 50 0\n")
        TestProc.writeFile(dir + "/status", "Name:\t\(comm)\nState:\t\(state)\nUid:\t\(uid)\t\(uid)\t\(uid)\t\(uid)\nThreads:\t1\n")
        TestProc.writeFile(dir + "/cmdline", (cmdline ?? comm).split(separator: " ").joined(separator: "\0") + (cmdline == "" ? "" : "\0"))
        TestProc.makeDir(dir + "/task")
        TestProc.makeDir(dir + "/task/\(pid)")
        TestProc.writeFile(dir + "/task/\(pid)/children", children.map { "\($0) " }.joined())
        TestProc.makeDir(dir + "/fd")
    }

    func write(_ relative: String, _ text: String) {
        TestProc.writeFile(root + "/" + relative, text)
    }
}
