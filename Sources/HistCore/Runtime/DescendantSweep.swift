#if canImport(Glibc)
import Glibc
import HistModel
import HistSys
#endif
import CShim
import HistModel
import HistProc
import Logging

/// Finds and ends processes that came from our programs but are not any unit's main process:
/// members of a session one of our programs created (each program runs in its own session),
/// processes that carry this histd's `HISTD_RUN` marker (escapers that left the session, a
/// subreaper's grandchildren), and, when histd owns every child of its process, anything re-parented to it.
struct DescendantSweep {
    struct Leftover {
        var pid: Int32
        var ppid: Int32
        var startTicks: UInt64
        /// `HISTD_UNIT` from its environment, when it carries our marker.
        var unit: String?
        /// The last signal sent (0 until `terminate`).
        var signal: Int32 = 0
        var gone = false
    }

    var ownPID: Int32
    /// Session id (= leader pid) -> the leader's start ticks.
    var sessions: [Int32: UInt64]
    var includeAllChildren: Bool
    /// This histd's marker (`HISTD_RUN`); nil = do not read environments.
    var marker: RunMarker? = nil

    func findLeftovers() -> [Leftover] {
        // The one /proc/PID/stat parser (ProcStat, through ProcFS), not a reader of its own.
        let procfs = ProcFS()
        var found: [Leftover] = []
        for pid in procfs.allPids() {
            guard pid != ownPID, let stat = procfs.stat(pid) else { continue }
            if stat.state == "Z" && stat.ppid != ownPID { continue }
            let marked = marker.map { procfs.environValue(pid, RunMarker.runVariable) == $0.text } ?? false
            let unit = marked ? procfs.environValue(pid, RunMarker.unitVariable) : nil
            if marked || (includeAllChildren && stat.ppid == ownPID) {
                found.append(Leftover(pid: pid, ppid: stat.ppid, startTicks: stat.startTicks, unit: unit))
            } else if let leaderTicks = sessions[stat.session], sessionIsOurs(stat.session, leaderTicks: leaderTicks, procfs) {
                found.append(Leftover(pid: pid, ppid: stat.ppid, startTicks: stat.startTicks, unit: unit))
            }
        }
        return found
    }

    /// A session number is ours unless a new process reused the number (its leader alive with a
    /// different start time). While any member of our session lives, the number cannot be reused.
    private func sessionIsOurs(_ sid: Int32, leaderTicks: UInt64, _ procfs: ProcFS) -> Bool {
        guard let ticks = procfs.stat(sid)?.startTicks else { return true } // the leader is gone
        return ticks == leaderTicks
    }

    /// SIGTERM, wait up to `grace` for them to exit (pidfds, no polling loop), then SIGKILL.
    /// Returns the leftovers with the last signal each was sent and whether it is gone. (Blocks:
    /// it runs once, at the very end of shutdown, when the engine has nothing else to do.)
    func terminate(_ leftovers: [Leftover], grace: Duration, logger: Logger) -> [Leftover] {
        var result = leftovers
        var fds: [(index: Int, fd: Int32)] = []
        for (i, p) in leftovers.enumerated() {
            let fd = histd_pidfd_open(p.pid)
            guard fd >= 0 else { result[i].gone = true; continue }
            // The pidfd pins the process: check it is still the one we found before signalling it.
            guard histd_proc_start_ticks(p.pid) == p.startTicks else { Sys.close(fd); result[i].gone = true; continue }
            _ = histd_pidfd_send_signal(fd, SIGTERM)
            result[i].signal = SIGTERM
            fds.append((i, fd))
        }
        defer { for (_, fd) in fds { Sys.close(fd) } }
        waitForExit(fds.map(\.fd), timeout: grace)
        var killed = 0
        for (i, fd) in fds where !Self.exited(fd) {
            _ = histd_pidfd_send_signal(fd, SIGKILL)
            result[i].signal = SIGKILL
            killed += 1
        }
        if killed > 0 {
            logger.warning("\(killed) leftover descendant(s) ignored SIGTERM for \(grace): SIGKILL")
            waitForExit(fds.map(\.fd), timeout: .seconds(2))
        }
        for (i, fd) in fds { result[i].gone = Self.exited(fd) }
        return result
    }

    private func waitForExit(_ fds: [Int32], timeout: Duration) {
        let deadline = MonotonicInstant.now().sinceOrigin + timeout
        var pending = fds.filter { !Self.exited($0) }
        while !pending.isEmpty {
            let left = deadline - MonotonicInstant.now().sinceOrigin
            if left <= .zero { return }
            var pfds = pending.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            if Sys.poll(&pfds, timeoutMs: Int32(max(1, left.milliseconds))) < 0 { return }
            pending = pending.filter { !Self.exited($0) }
        }
    }

    private static func exited(_ pidfd: Int32) -> Bool {
        var pfd = pollfd(fd: pidfd, events: Int16(POLLIN), revents: 0)
        return poll(&pfd, 1, 0) == 1
    }
}
