import CShim
import Dispatch
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Everything histbench starts goes through here, so it can all be stopped again: on success, on a
/// thrown error, and on Ctrl-C/SIGTERM. histbench is a child subreaper, so whatever a supervisor leaves
/// behind is re-parented to it; the final sweep SIGKILLs every live descendant **by pid**, after
/// checking its start time from the same /proc read (a reused pid is never hit). Never by name.
final class Processes: Sendable {
    static let shared = Processes()

    struct SpawnError: Error, CustomStringConvertible {
        var description: String
    }

    /// Roots we started directly: pid -> start ticks.
    private let roots = Mutex<[Int32: UInt64]>([:])
    /// Kept alive for the whole run; written once, before any other thread uses it.
    nonisolated(unsafe) private static var signalSources: [DispatchSourceSignal] = []

    /// Becomes a subreaper and turns SIGINT/SIGTERM/SIGHUP into "clean up, then exit".
    func install() {
        _ = histd_set_child_subreaper()
        signal(SIGPIPE, SIG_IGN)
        var sources: [DispatchSourceSignal] = []
        for sig in [SIGINT, SIGTERM, SIGHUP] {
            signal(sig, SIG_IGN)
            let src = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            src.setEventHandler {
                FileHandle.standardError.write("histbench: signal \(sig), stopping everything it started\n".data(using: .utf8)!)
                Processes.shared.killEverything()
                exit(128 + sig)
            }
            src.resume()
            sources.append(src)
        }
        Processes.signalSources = sources
    }

    /// Starts argv[0] (an absolute path) with a clean signal mask and default dispositions.
    /// stdout and stderr go to `output` (appended) or /dev/null.
    func spawn(_ argv: [String], output: String? = nil, newSession: Bool = true) throws -> Int32 {
        var outFD: Int32 = -1
        if let output {
            outFD = open(output, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
            guard outFD >= 0 else { throw SpawnError(description: "cannot open \(output): \(String(cString: strerror(errno)))") }
        }
        defer { if outFD >= 0 { close(outFD) } }
        let cArgs = argv.map { strdup($0) } + [nil]
        defer { cArgs.forEach { free($0) } }
        var childErrno: Int32 = 0
        var step: UnsafePointer<CChar>?
        let pid: pid_t = cArgs.withUnsafeBufferPointer { args in
            argv[0].withCString { path in
                var opts = histd_spawn_opts()
                opts.path = path
                opts.argv = UnsafePointer(args.baseAddress!)
                opts.envp = UnsafePointer(environ)
                opts.cwd = nil
                opts.stdin_fd = -1
                opts.stdout_fd = outFD
                opts.stderr_fd = outFD
                opts.new_session = newSession ? 1 : 0
                opts.cgroup_procs = nil
                opts.pdeathsig = 0
                return histd_spawn(&opts, &childErrno, &step)
            }
        }
        guard pid > 0 else {
            let what = step.map { String(cString: $0) } ?? "spawn"
            throw SpawnError(description: "cannot start \(argv[0]): \(what): \(String(cString: strerror(childErrno)))")
        }
        let ticks = ProcInfo.stat(pid)?.startTicks ?? 0
        roots.withLock { $0[pid] = ticks }
        return pid
    }

    /// Whether `pid` has exited (reaping it if so). Also reaps any re-parented orphan.
    func hasExited(_ pid: Int32) -> Bool {
        var status: Int32 = 0
        let r = waitpid(pid, &status, WNOHANG)
        if r == pid || (r < 0 && errno == ECHILD) {
            roots.withLock { _ = $0.removeValue(forKey: pid) }
            return true
        }
        return false
    }

    /// Waits up to `timeout` seconds for `pid` to exit and reaps it. Returns its exit status (nil: killed
    /// by a signal, or still running at the deadline; then it is SIGKILLed and reaped).
    func waitExit(_ pid: Int32, timeout: Double) -> Int32? {
        let deadline = monoNow() + Int64(timeout * 1e9)
        var status: Int32 = 0
        while true {
            let r = waitpid(pid, &status, WNOHANG)
            if r == pid {
                roots.withLock { _ = $0.removeValue(forKey: pid) }
                // WIFEXITED / WEXITSTATUS, spelled out (the macros are not imported).
                return status & 0x7f == 0 ? (status >> 8) & 0xff : nil
            }
            if r < 0 { return nil }
            if monoNow() > deadline {
                _ = stop(pid, signal: SIGKILL, timeout: 5)
                return nil
            }
            sleepSeconds(0.001)
        }
    }

    /// Reaps whatever has exited among our children (orphans re-parented to us included).
    func reapAny() {
        var status: Int32 = 0
        while true {
            let r = waitpid(-1, &status, WNOHANG)
            if r <= 0 { break }
            roots.withLock { _ = $0.removeValue(forKey: r) }
        }
    }

    /// Sends `signal` to `pid` and waits up to `timeout` seconds for it to exit.
    /// Returns the seconds it took, or nil if it was still alive at the deadline.
    @discardableResult
    func stop(_ pid: Int32, signal sig: Int32 = SIGTERM, timeout: Double = 15) -> Double? {
        let t0 = monoNow()
        let expected = roots.withLock { $0[pid] }
        if let expected, let now = ProcInfo.stat(pid), now.startTicks != expected { return 0 }
        kill(pid, sig)
        let deadline = t0 + Int64(timeout * 1e9)
        while monoNow() < deadline {
            if hasExited(pid) { return Double(monoNow() - t0) / 1e9 }
            reapAny()
            sleepSeconds(0.005)
        }
        return nil
    }

    /// SIGKILLs every live descendant of histbench by pid (start time checked), then reaps, bounded
    /// by a deadline. Returns how many processes it had to kill.
    @discardableResult
    func killEverything(timeout: Double = 10) -> Int {
        let me = getpid()
        let deadline = monoNow() + Int64(timeout * 1e9)
        var killed = 0
        while monoNow() < deadline {
            let live = ProcInfo.descendants(of: me).filter { $0.state != "Z" }
            reapAny()
            if live.isEmpty { break }
            for p in live {
                // Re-read right before the kill: same pid and same start time, or leave it alone.
                if let again = ProcInfo.stat(p.pid), again.startTicks == p.startTicks {
                    kill(p.pid, SIGKILL)
                    killed += 1
                }
            }
            sleepSeconds(0.01)
            reapAny()
        }
        reapAny()
        return killed
    }
}
