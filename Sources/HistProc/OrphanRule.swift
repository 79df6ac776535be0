#if canImport(Glibc)
import Glibc
#endif
import HistModel

/// What the scanner knows about histd itself. nil in cron mode (`histd scan --once`).
public struct SupervisorView: Hashable, Sendable {
    /// histd's pid. histd is a child subreaper, so orphaned descendants of its programs become its
    /// children.
    public var pid: Int32
    /// The processes histd spawned itself (its instances' root processes). A child of histd that
    /// is not in this set was adopted.
    public var spawned: Set<ProcessIdentity>
    /// Program name by session id. histd starts every instance with setsid, so the instance's root
    /// pid is the session id of every descendant that did not call setsid itself. The kernel never
    /// reuses a pid while it still names a live session or process group, so this lookup is exact
    /// for any orphan that is still alive. Keep ended instances here while descendants may linger.
    public var programBySession: [Int32: String]

    public init(pid: Int32, spawned: Set<ProcessIdentity> = [], programBySession: [Int32: String] = [:]) {
        self.pid = pid
        self.spawned = spawned
        self.programBySession = programBySession
    }
}

/// The orphan rule, as a pure value over a process table (see docs/WATCHING.md).
///
/// (a) A child of histd that histd did not spawn: "adopted_by_histd" (exact).
/// (b) Elsewhere, all of:
///   - not PID 1, not a kernel thread, not a zombie, not a session leader (pid != sid);
///   - re-parented: its session differs from its parent's. Sessions are only inherited through
///     fork, and a process can only leave its parent's session by becoming a session leader, so a
///     non-leader in another session than its parent lost its original parent (or, very rarely,
///     the parent called setsid after forking it);
///   - its session leader or its process-group leader no longer exists.
///   Reason: parent is PID 1 and the session leader is gone: "reparented_to_init"; parent is
///   PID 1, the session leader lives but the group leader is gone: "group_leader_gone"; parent is
///   another process (a subreaper): "reparented_to_subreaper".
/// Processes whose name or cmdline match an `orphan_ignore` glob are never reported.
public struct OrphanRule: Sendable {
    public typealias Reason = OrphanReason

    public var supervisor: SupervisorView?
    /// fnmatch(3) patterns, matched against the process name (comm) and its full cmdline.
    public var ignorePatterns: [String]

    public init(supervisor: SupervisorView? = nil, ignorePatterns: [String] = []) {
        self.supervisor = supervisor
        self.ignorePatterns = ignorePatterns
    }

    /// The verdict for one process, given every process of the same scan by pid. Ignore patterns
    /// are applied separately (`isIgnored`), because they need the cmdline, which is read only for
    /// candidates.
    public func judge(_ p: ProcStat, table: [Int32: ProcStat]) -> Reason? {
        if p.pid == 1 || p.ppid == 0 || p.isKernelThread { return nil }
        if p.stateByte == UInt8(ascii: "Z") || p.stateByte == UInt8(ascii: "X") { return nil }
        if let supervisor {
            if p.pid == supervisor.pid { return nil }
            if p.ppid == supervisor.pid {
                return supervisor.spawned.contains(p.identity) ? nil : .adoptedByHistd
            }
        }
        if p.isSessionLeader { return nil }
        // A parent that vanished mid-scan: we cannot tell, so we do not guess.
        guard let parent = table[p.ppid] else { return nil }
        guard parent.session != p.session else { return nil }
        let sessionLeaderGone = table[p.session] == nil
        let groupLeaderGone = table[p.pgrp] == nil
        guard sessionLeaderGone || groupLeaderGone else { return nil }
        if p.ppid != 1 { return .reparentedToSubreaper }
        return sessionLeaderGone ? .reparentedToInit : .groupLeaderGone
    }

    /// True when an `orphan_ignore` pattern matches the name or the cmdline.
    public func isIgnored(name: String, cmdline: String) -> Bool {
        for pattern in ignorePatterns {
            if fnmatch(pattern, name, 0) == 0 || fnmatch(pattern, cmdline, 0) == 0 { return true }
        }
        return false
    }

    /// The program an adopted orphan came from: by its session, else by its process group (a
    /// descendant that made its own group but not its own session).
    public func program(of p: ProcStat) -> String? {
        guard let supervisor else { return nil }
        return supervisor.programBySession[p.session] ?? supervisor.programBySession[p.pgrp]
    }
}
