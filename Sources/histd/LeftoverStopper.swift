import CShim
import HistModel
import HistProc

import HistSys
#if canImport(Glibc)
import Glibc
#endif

/// Stops processes that are not histd's children (left by an earlier histd): TERM to each process
/// group, wait for the exits through pidfds (event-driven, no sleep loop), then KILL what is left.
enum LeftoverStopper {
    /// Returns the identities that are gone afterwards, and the last signal each was sent.
    static func stop(_ identities: [ProcessIdentity], procfs: ProcFS, grace: Duration) -> (gone: Set<ProcessIdentity>, signals: [ProcessIdentity: Int32]) {
        var signals: [ProcessIdentity: Int32] = [:]
        var fds: [(ProcessIdentity, Int32)] = []
        for id in identities {
            let fd = histd_pidfd_open(id.pid)
            // Re-check identity after opening the pidfd: from here on the pidfd pins this process.
            guard fd >= 0 else { continue }
            guard isRunning(id, procfs: procfs) else { close(fd); continue }
            fds.append((id, fd))
            // histd started every instance with setsid, so its pid is its process group id.
            // Only when it leads its group (a marker-found escaper may sit in someone else's group).
            if getpgid(id.pid) == id.pid { _ = kill(-id.pid, SIGTERM) }
            _ = histd_pidfd_send_signal(fd, SIGTERM)
            signals[id] = SIGTERM
        }
        defer { for (_, fd) in fds { close(fd) } }
        waitForExits(fds.map(\.1), timeout: grace)
        for (id, fd) in fds where isRunning(id, procfs: procfs) {
            _ = histd_pidfd_send_signal(fd, SIGKILL)
            if getpgid(id.pid) == id.pid { _ = kill(-id.pid, SIGKILL) }
            signals[id] = SIGKILL
        }
        waitForExits(fds.map(\.1), timeout: .seconds(2))
        return (Set(identities.filter { !isRunning($0, procfs: procfs) }), signals)
    }

    /// Same pid and start time, and not a zombie. A leftover is not our child: once it dies it stays
    /// a zombie until its new parent (init or another subreaper) reaps it, which need not have
    /// happened yet when its pidfd reports the exit. `ProcFS.isAlive` counts zombies as alive.
    static func isRunning(_ id: ProcessIdentity, procfs: ProcFS) -> Bool {
        guard let s = procfs.stat(id.pid), s.startTicks == id.startTicks else { return false }
        return s.state != "Z"
    }

    /// poll(2) on pidfds until all have exited (a pidfd becomes readable when its process exits).
    private static func waitForExits(_ fds: [Int32], timeout: Duration) {
        var pending = fds
        let deadline = MonotonicInstant.now().adding(timeout)
        while !pending.isEmpty {
            let left = deadline.since(.now()).milliseconds
            guard left > 0 else { return }
            var pfds = pending.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            if Sys.poll(&pfds, timeoutMs: Int32(min(left, 1000))) < 0 { return }
            pending = pfds.filter { $0.revents == 0 }.map(\.fd)
        }
    }
}
