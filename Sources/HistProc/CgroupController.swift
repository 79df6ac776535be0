#if canImport(Glibc)
import Glibc
#endif
import HistModel
import HistSys

/// The cgroup(s) of one program: one directory per hierarchy (cgroup v1 mounts each controller
/// separately; v2 has one). A value: cheap to copy and safe to share between threads; every
/// method reads or writes the cgroup files directly.
public struct CgroupController: Hashable, Sendable {
    public struct Group: Hashable, Sendable {
        public var directory: String
        public var version: CgroupHierarchy.Version
        public var resources: Set<CgroupResource>
    }

    public var program: String
    public var groups: [Group]

    public init(program: String, groups: [Group]) {
        self.program = program
        self.groups = groups
    }

    /// The `cgroup.procs` files a new process must join **before** it execs (pass them to
    /// `histd_spawn` as `cgroup_procs`; the child writes "0" into each). Joining after exec would
    /// leave memory allocated before the move uncharged on cgroup v1.
    public var procsFiles: [String] { groups.map { $0.directory + "/cgroup.procs" } }

    /// Writes the limits: memory (v2 `memory.max`, v1 `memory.limit_in_bytes`), CPU quota (v2
    /// `cpu.max` "quota period", v1 `cpu.cfs_quota_us` + `cpu.cfs_period_us`) and tasks (`pids.max`).
    /// A limit that is nil is set back to "max" (no limit), so re-applying a changed config works.
    public func apply(_ limits: CgroupLimits) throws(CgroupError) {
        let period = 100_000  // µs: the kernel's default CFS period
        for g in groups {
            if g.resources.contains(.memory) {
                let value = limits.memoryMax.map { String($0) }
                switch g.version {
                case .v2: try Cgroups.write(g.directory + "/memory.max", value ?? "max")
                case .v1: try Cgroups.write(g.directory + "/memory.limit_in_bytes", value ?? "-1")
                }
            }
            if g.resources.contains(.cpu) {
                // 1 ms is the smallest quota the kernel accepts.
                let quota = limits.cpuQuotaPercent.map { max(1000, Int(($0 / 100 * Double(period)).rounded())) }
                switch g.version {
                case .v2: try Cgroups.write(g.directory + "/cpu.max", "\(quota.map(String.init) ?? "max") \(period)")
                case .v1:
                    try Cgroups.write(g.directory + "/cpu.cfs_period_us", String(period))
                    try Cgroups.write(g.directory + "/cpu.cfs_quota_us", quota.map(String.init) ?? "-1")
                }
            }
            if g.resources.contains(.pids) {
                try Cgroups.write(g.directory + "/pids.max", limits.tasksMax.map { String($0) } ?? "max")
            }
        }
    }

    /// Every pid in the program's groups (the union over hierarchies), sorted. Zombies are not
    /// listed (the kernel removes a process from its cgroup when it exits).
    public func pids() -> [Int32] {
        var all = Set<Int32>()
        for file in procsFiles {
            guard let text = Sys.readText(file) else { continue }
            for word in text.split(separator: "\n") { if let p = Int32(word) { all.insert(p) } }
        }
        return all.sorted()
    }

    /// Sends `signal` to every process in the groups, again and again, until the groups are
    /// empty or `timeout` passes. This catches processes that left the program's process group or
    /// session (double-forked escapees), and children forked while we were killing. On cgroup v2
    /// with SIGKILL it also writes `cgroup.kill`, which the kernel applies atomically.
    ///
    /// Blocks for up to `timeout` (polling every 10 ms): call it off any latency-sensitive thread.
    /// Returns the pids still present at the deadline (empty = all gone).
    @discardableResult
    public func killAll(signal: Int32 = SIGKILL, timeout: Duration = .seconds(5)) -> [Int32] {
        let deadline = MonotonicInstant.now().adding(timeout)
        if signal == SIGKILL {
            for g in groups where g.version == .v2 { _ = Sys.writeFile(g.directory + "/cgroup.kill", "1") }
        }
        // Other signals go once to each process: repeating a SIGTERM would only restart its handler.
        var signaled = Set<Int32>()
        while true {
            let live = pids()
            if live.isEmpty { return [] }
            for pid in live where signal == SIGKILL || !signaled.contains(pid) {
                kill(pid, signal)
                signaled.insert(pid)
            }
            if MonotonicInstant.now() >= deadline { return pids() }
            usleep(10_000)
        }
    }

    /// Removes the groups (rmdir). Fails with `.removeFailed` while a group still holds processes:
    /// call `killAll` first. A group that is already gone is not an error.
    public func remove() throws(CgroupError) {
        var firstError: CgroupError?
        for g in groups {
            if g.directory.withCString({ rmdir($0) }) != 0 && errno != ENOENT {
                let err = errno
                firstError = firstError ?? CgroupError(.removeFailed, path: g.directory, errno: err,
                                                       detail: err == EBUSY ? "processes still in it" : "")
            }
        }
        if let firstError { throw firstError }
    }

    /// How many processes the kernel OOM-killed in this group because of its memory limit:
    /// v2 `memory.events` "oom_kill", v1 `memory.oom_control` "oom_kill" (Linux 4.13+).
    /// nil when the group has no memory controller or the kernel does not count kills. (v1's
    /// `memory.failcnt` counts limit hits, not kills: see `memoryLimitHits`.)
    public func oomKillCount() -> Int64? {
        guard let g = groups.first(where: { $0.resources.contains(.memory) }) else { return nil }
        let file = g.version == .v2 ? "/memory.events" : "/memory.oom_control"
        return Self.keyedValue(Sys.readText(g.directory + file), key: "oom_kill")
    }

    /// How often usage hit the memory limit (v2 `memory.events` "max", v1 `memory.failcnt`).
    /// Hits are not kills: the kernel usually reclaims memory and goes on.
    public func memoryLimitHits() -> Int64? {
        guard let g = groups.first(where: { $0.resources.contains(.memory) }) else { return nil }
        if g.version == .v2 { return Self.keyedValue(Sys.readText(g.directory + "/memory.events"), key: "max") }
        return Sys.readText(g.directory + "/memory.failcnt").flatMap { Int64($0.split(separator: "\n").first ?? "") }
    }

    /// How many forks were refused by `tasks_max` (`pids.events` "max"), or nil without pids.
    public func pidsLimitHits() -> Int64? {
        guard let g = groups.first(where: { $0.resources.contains(.pids) }) else { return nil }
        return Self.keyedValue(Sys.readText(g.directory + "/pids.events"), key: "max")
    }

    /// Current memory charged to the group (v2 `memory.current`, v1 `memory.usage_in_bytes`).
    public func memoryCurrent() -> Int64? {
        guard let g = groups.first(where: { $0.resources.contains(.memory) }) else { return nil }
        let file = g.version == .v2 ? "/memory.current" : "/memory.usage_in_bytes"
        return Sys.readText(g.directory + file).flatMap { Int64($0.split(separator: "\n").first ?? "") }
    }

    /// The number after `key` in a "key value" per line file.
    static func keyedValue(_ text: String?, key: String) -> Int64? {
        guard let text else { return nil }
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: " ")
            if parts.count == 2, parts[0] == key { return Int64(parts[1]) }
        }
        return nil
    }
}
