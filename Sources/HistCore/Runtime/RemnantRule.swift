import HistModel

/// Which processes remain of an instance whose main process has ended (`kill_mode = "tree"`): a pure
/// rule over one `/proc/PID/stat` row, table-tested.
///
/// A process belongs to the ended instance when it is not a zombie and
/// - it is in the instance's session or process group (histd started the instance with setsid, so
///   both ids are the leader's pid), started no earlier than the leader, and that number still
///   names our instance (`treeIdsOurs`). The kernel never hands out a pid still used as a session
///   or group id, but once every member is gone the number is free: a new process may get it as
///   its pid, call setsid, and fork, and its children then carry our old session id with start
///   times after our leader's. The caller knows whether that can have happened (a member of ours
///   held the number all along, or the leader's pid is not taken by another process), or
/// - it sits in the instance's cgroup, or
/// - it was re-parented to histd, is no unit's main process, and carries the unit's marker
///   (`HISTD_RUN` of this histd and `HISTD_UNIT` of the unit): escapers that called setsid.
struct RemnantRule {
    /// The ended main process.
    var leader: ProcessIdentity
    /// histd's own pid (the subreaper descendants are re-parented to).
    var ownPID: Int32
    /// The leader's pid, used as a session and group id, still names this instance (it was never
    /// free since the leader ended). False: session and group say nothing; only the cgroup and the
    /// marker do.
    var treeIdsOurs: Bool = true

    struct Candidate {
        var pid: Int32
        var ppid: Int32
        var pgrp: Int32
        var session: Int32
        var startTicks: UInt64
        var isZombie: Bool
    }

    enum Verdict: Equatable {
        case notOurs
        /// Belongs by session or process group.
        case sameTree
        /// Belongs by cgroup membership.
        case sameCgroup
        /// Re-parented to histd: belongs only if its environment carries the unit's marker.
        case checkMarker
    }

    func verdict(_ c: Candidate, inCgroup: Bool, isUnitMain: Bool) -> Verdict {
        if c.pid == leader.pid || c.pid == ownPID || c.isZombie || isUnitMain { return .notOurs }
        if treeIdsOurs && (c.session == leader.pid || c.pgrp == leader.pid) && c.startTicks >= leader.startTicks { return .sameTree }
        if inCgroup { return .sameCgroup }
        if c.ppid == ownPID && c.startTicks >= leader.startTicks { return .checkMarker }
        return .notOurs
    }
}
