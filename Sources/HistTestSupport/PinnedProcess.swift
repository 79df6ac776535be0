#if canImport(Glibc)
import Glibc
#endif
import HistProc

/// A process that a test started or found, by (pid, start time), taken while it is known to exist, so that a
/// cleanup long after never signals another process that has the number by then: tests run side by side in
/// one process (the end-to-end ones spawn histd beside the others), and one of them rewinds the kernel's pid
/// counter. The HistCore and HistProc tests kill this way whatever is not their own tracked child (the
/// end-to-end tests keep their own /proc reader, Tests/EndToEndTests/Procfs.swift, to check HistProc
/// rather than share its code).
public struct PinnedProcess: Hashable, Sendable {
    public let pid: Int32
    public let ticks: UInt64

    /// Nil when `pid` is not a process now; a zombie counts only with `includingZombie` (one a test made
    /// on purpose, to reap it at the end).
    public init?(_ pid: Int32, includingZombie: Bool = false) {
        guard pid > 0, let stat = ProcFS().stat(pid), includingZombie || stat.state != "Z" else { return nil }
        self.init(pid: pid, ticks: stat.startTicks)
    }

    public init(pid: Int32, ticks: UInt64) {
        self.pid = pid
        self.ticks = ticks
    }

    /// Whether `pid` is still this process and not a zombie.
    public var isAlive: Bool {
        guard let stat = ProcFS().stat(pid), stat.startTicks == ticks else { return false }
        return stat.state != "Z"
    }

    /// SIGKILL while `pid` is still this process (a zombie included), then reaps it when it is this
    /// process's child (waiting at most 1 s; another thread may reap it first). Nothing when the number
    /// now belongs to another process or to none.
    public func kill() {
        guard pid > 1, ProcFS().stat(pid)?.startTicks == ticks else { return }
        _ = Glibc.kill(pid, SIGKILL)
        var status: Int32 = 0
        for _ in 0..<100 {
            let r = waitpid(pid, &status, WNOHANG)
            if r == pid || (r < 0 && errno == ECHILD) { return }
            usleep(10_000)
        }
    }
}
