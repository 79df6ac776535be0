#if canImport(Glibc)
import Glibc
#endif
import CShim
import HistModel
import HistProc
import HistSys

/// What remains of an ended instance while histd stops it (`kill_mode = "tree"`). Lives on the
/// engine thread; driven by two engine timers (a short re-check, and the stop_timeout deadline),
/// never by a wait.
final class Drain {
    let instance: InstanceInfo
    /// Members still alive: pid -> start ticks.
    var members: [Int32: UInt64] = [:]
    /// The last signal sent (the unit's stop signal, then SIGKILL).
    var signal: Int32
    /// SIGKILL was sent; the next deadline gives up.
    var killSent = false
    /// A spawn the lifecycle asked for while the old tree was still alive: run it when the drain ends.
    var spawnPending = false
    var checkTimer: UInt64?
    var deadlineTimer: UInt64?
    var checkInterval: Duration = .milliseconds(5)
    /// Boot-time clock ticks (the unit of start ticks) when the drain began, just after the leader was
    /// reaped: a process of the leader's session that started no later was there while the leader
    /// lived, so it is ours (see `findRemnants`).
    var begunTicks: UInt64 = 0

    init(instance: InstanceInfo, signal: Int32) {
        self.instance = instance
        self.signal = signal
    }
}

extension Engine {
    /// After an instance's main process ended (any reason): find what remains of its tree and, if
    /// anything does, stop it before the unit may spawn again.
    func startDrain(_ unit: Unit, ended: InstanceInfo) {
        guard unit.spec.killMode == .tree, unit.drain == nil else { return }
        let begun = Self.bootTicksNow()
        // The /proc walk only when the leader's group is not empty; otherwise the cgroup and histd's
        // own children are all there is to look at (both cheap), which keeps restarts fast.
        let found = kill(-ended.identity.pid, 0) == 0 || errno == EPERM
            ? findRemnants(unit, leader: ended.identity, treeIdsOurs: true, members: [:], begunTicks: begun)
            : quickRemnants(unit, leader: ended.identity)
        guard !found.isEmpty else { return }
        let drain = Drain(instance: ended, signal: unit.spec.stopSignal)
        drain.begunTicks = begun
        unit.drain = drain
        logger.notice("\(unit.key): \(found.count) process(es) remain of [\(ended.identity.pid)] after it ended: \(SignalName.name(drain.signal)) to \(found.keys.sorted().map(String.init).joined(separator: " "))")
        for (pid, ticks) in found {
            drain.members[pid] = ticks
            Self.signalExact(pid, ticks, drain.signal)
        }
        drain.deadlineTimer = timers.schedule(at: MonotonicInstant.now().sinceOrigin + unit.spec.stopTimeout, .drainDeadline(unit.key))
        drain.checkTimer = timers.schedule(at: MonotonicInstant.now().sinceOrigin + drain.checkInterval, .drainCheck(unit.key))
    }

    /// Re-checks a drain: records members that are gone, signals members that appeared (children
    /// forked meanwhile, escapers re-parented to histd once their parent died), and ends the drain
    /// once nothing remains.
    func checkDrain(_ unit: Unit) {
        guard let drain = unit.drain else { return }
        drain.checkTimer = nil
        recordGoneMembers(unit, drain)
        let treeIdsOurs = holdsTreeIds(drain)
        for (pid, ticks) in findRemnants(unit, leader: drain.instance.identity, treeIdsOurs: treeIdsOurs,
                                         members: drain.members, begunTicks: drain.begunTicks) where drain.members[pid] == nil {
            // Forked meanwhile, or re-parented to histd once its parent died: one line each, for the record.
            let name = ownershipProc.stat(pid)?.comm ?? "?"
            logger.notice("\(unit.key): \(name)[\(pid)] appeared in what remains of [\(drain.instance.identity.pid)]: \(SignalName.name(drain.signal))")
            drain.members[pid] = ticks
            Self.signalExact(pid, ticks, drain.signal)
        }
        if drain.members.isEmpty {
            finishDrain(unit)
            return
        }
        drain.checkInterval = min(drain.checkInterval * 2, .milliseconds(100))
        drain.checkTimer = timers.schedule(at: MonotonicInstant.now().sinceOrigin + drain.checkInterval, .drainCheck(unit.key))
    }

    /// stop_timeout passed: SIGKILL what is left (and the cgroup, atomically on v2). If even that
    /// does not empty it within another stop_timeout (a process in uninterruptible sleep), give up
    /// waiting, say so, and let the unit go on: one stuck process must not stall its program forever.
    func drainDeadline(_ unit: Unit) {
        guard let drain = unit.drain else { return }
        drain.deadlineTimer = nil
        recordGoneMembers(unit, drain)
        if drain.members.isEmpty {
            finishDrain(unit)
            return
        }
        if !drain.killSent {
            drain.killSent = true
            drain.signal = SIGKILL
            logger.warning("\(unit.key): \(drain.members.count) remaining process(es) of [\(drain.instance.identity.pid)] outlived stop_timeout: SIGKILL")
            for (pid, ticks) in drain.members { Self.signalExact(pid, ticks, SIGKILL) }
            resources.killAll(unit: unit.key, spec: unit.spec)
            let wait = max(unit.spec.stopTimeout, .seconds(1))
            drain.deadlineTimer = timers.schedule(at: MonotonicInstant.now().sinceOrigin + wait, .drainDeadline(unit.key))
            return
        }
        logger.error("\(unit.key): \(drain.members.count) process(es) of [\(drain.instance.identity.pid)] survive SIGKILL (\(drain.members.keys.sorted().map(String.init).joined(separator: " "))); no longer waiting for them")
        for (pid, ticks) in drain.members.sorted(by: { $0.key < $1.key }) {
            recordSwept(unit, ProcessIdentity(pid: pid, startTicks: ticks), drain: drain, gone: false)
        }
        drain.members.removeAll()
        finishDrain(unit)
    }

    /// Shutdown's deadline: every drain goes straight to SIGKILL.
    func escalateDrains() {
        for unit in units.values where unit.drain != nil && unit.drain?.killSent == false {
            timers.cancel(unit.drain?.deadlineTimer)
            drainDeadline(unit)
        }
    }

    private func finishDrain(_ unit: Unit) {
        guard let drain = unit.drain else { return }
        timers.cancel(drain.checkTimer)
        timers.cancel(drain.deadlineTimer)
        unit.drain = nil
        if unit.pool != nil { poolsDirty = true }
        if drain.spawnPending {
            deliver(spawnNow(unit), to: unit)
        } else if unit.removeWhenIdle && unit.process == nil && [.stopped, .exited, .failed].contains(unit.state) {
            removeUnit(unit)
        }
    }

    private func recordGoneMembers(_ unit: Unit, _ drain: Drain) {
        for (pid, ticks) in drain.members.sorted(by: { $0.key < $1.key }) where !Self.isRunning(pid, ticks, procfs: ownershipProc) {
            drain.members[pid] = nil
            recordSwept(unit, ProcessIdentity(pid: pid, startTicks: ticks), drain: drain, gone: true)
        }
    }

    private func recordSwept(_ unit: Unit, _ identity: ProcessIdentity, drain: Drain, gone: Bool) {
        let swept = SweptProcess(identity: identity, instance: drain.instance, signal: drain.signal, reason: .instanceEnded, gone: gone)
        sink.record(HistEvent(program: unit.key.program, payload: .swept(swept)))
    }

    /// Remnants when the leader's process group is empty (`kill(-pgid, 0)` fails: the group id
    /// stays taken while any member lives), without walking /proc: the members of its cgroup, and
    /// histd's own children that are no unit's main process and carry this unit's marker
    /// (re-parented escapers). A session member that moved to another group while its parent still
    /// lives is not seen here; the final sweep at shutdown still stops it.
    func quickRemnants(_ unit: Unit, leader: ProcessIdentity) -> [Int32: UInt64] {
        var found: [Int32: UInt64] = [:]
        let procfs = ownershipProc
        for pid in resources.members(unit: unit.key, spec: unit.spec) where pid != leader.pid {
            if let s = procfs.stat(pid), s.state != "Z" { found[pid] = s.startTicks }
        }
        for pid in ownChildren() where unitByPID[pid] == nil && found[pid] == nil {
            guard let s = procfs.stat(pid), s.state != "Z", s.startTicks >= leader.startTicks,
                  procfs.environValue(pid, RunMarker.runVariable) == runMarker.text,
                  procfs.environValue(pid, RunMarker.unitVariable) == unit.key.description else { continue }
            found[pid] = s.startTicks
        }
        return found
    }

    /// histd's children that were re-parented to it (escapers of a subreaper histd), from the main
    /// thread's `/proc/self/task/PID/children`. The kernel hands an orphan to the first live thread of
    /// the subreaper (`find_alive_thread`, which starts at the thread-group leader), so while histd's
    /// main thread lives, every re-parented process is listed there; the other threads' lists hold
    /// only what they forked themselves (the engine thread's: unit main processes, skipped anyway).
    /// Reading one file instead of one per thread keeps kill_mode = "tree" restarts near the
    /// process-mode figure. If the main thread's list cannot be read, every thread's is.
    func ownChildren() -> [Int32] {
        if let main = Self.childrenList("/proc/self/task/\(getpid())/children") { return main }
        var out: [Int32] = []
        guard let dir = opendir("/proc/self/task") else { return out }
        defer { closedir(dir) }
        while let e = readdir(dir) {
            let name = withUnsafeBytes(of: e.pointee.d_name) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
            guard Int32(name) != nil else { continue }
            out += Self.childrenList("/proc/self/task/\(name)/children") ?? []
        }
        return out
    }

    /// The pids in one `children` file; nil when it cannot be opened.
    static func childrenList(_ path: String) -> [Int32]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { Glibc.close(fd) }
        var text: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = read(fd, &buf, buf.count)
            if n <= 0 { break }
            text += buf[0..<n]
        }
        return text.split(whereSeparator: { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\n") })
            .compactMap { Int32(String(decoding: $0, as: UTF8.self)) }
    }

    /// Whether a member of the drain, alive all along (same pid and start time as when it was
    /// found), is still in the leader's session or group: then that number was never free, so
    /// whoever carries it now is ours. Once none is, the number may have been handed to a stranger
    /// (the pid churn of a busy box does it within milliseconds; PidReuseDrainTests forces it), and
    /// histd would signal and record another program's child as its own. A cheap pre-check only:
    /// `findRemnants` proves the number after its walk either way.
    private func holdsTreeIds(_ drain: Drain) -> Bool {
        let id = drain.instance.identity.pid
        let procfs = ownershipProc
        for (pid, ticks) in drain.members {
            guard let s = procfs.stat(pid), s.startTicks == ticks, s.state != "Z" else { continue }
            if s.session == id || s.pgrp == id { return true }
        }
        return false
    }

    /// Processes that remain of the unit's ended instance `leader` (see `RemnantRule`).
    /// `treeIdsOurs`: no reason yet to doubt that the leader's pid, as a session and group id, still
    /// names this instance. A walk of /proc takes a while on a busy box, and the number may be freed
    /// and handed to a stranger (which calls setsid and forks) while it runs, so session and group
    /// matches count only if, after the walk, a process proves the number was ours all along: one
    /// still in that session or group (a zombie holds it too) that is a known member of the drain, or
    /// that started no later than the drain began (`begunTicks`: the leader lived then).
    func findRemnants(_ unit: Unit, leader: ProcessIdentity, treeIdsOurs: Bool,
                      members: [Int32: UInt64], begunTicks: UInt64) -> [Int32: UInt64] {
        let rule = RemnantRule(leader: leader, ownPID: ownPID, treeIdsOurs: treeIdsOurs)
        let cgroup = Set(resources.members(unit: unit.key, spec: unit.spec))
        var found: [Int32: UInt64] = [:]
        var byTree: [Int32] = []
        let procfs = ownershipProc
        for pid in procfs.allPids() {
            guard let s = procfs.stat(pid) else { continue }
            let c = RemnantRule.Candidate(pid: pid, ppid: s.ppid, pgrp: s.pgrp, session: s.session,
                                          startTicks: s.startTicks, isZombie: s.state == "Z" || s.state == "X")
            switch rule.verdict(c, inCgroup: cgroup.contains(pid), isUnitMain: unitByPID[pid] != nil) {
            case .notOurs: continue
            case .sameTree:
                found[pid] = s.startTicks
                byTree.append(pid)
            case .sameCgroup: found[pid] = s.startTicks
            case .checkMarker:
                if procfs.environValue(pid, RunMarker.runVariable) == runMarker.text,
                   procfs.environValue(pid, RunMarker.unitVariable) == unit.key.description {
                    found[pid] = s.startTicks
                }
            }
        }
        guard !byTree.isEmpty else { return found }
        // Checked after the walk: a stranger that took the pid shows as its holder; otherwise one of
        // ours must still hold the number.
        let reused = procfs.stat(leader.pid).map { $0.startTicks != leader.startTicks } ?? false
        let candidates = members.map { ($0.key, $0.value, true) } + byTree.compactMap { pid in found[pid].map { (pid, $0, false) } }
        let proven = !reused && candidates.contains { pid, ticks, known in
            guard let s = procfs.stat(pid), s.startTicks == ticks, s.session == leader.pid || s.pgrp == leader.pid else { return false }
            return known || ticks <= begunTicks
        }
        if !proven {
            for pid in byTree where !cgroup.contains(pid) { found[pid] = nil }
        }
        return found
    }

    /// Now, in the unit of /proc start ticks (clock ticks since boot: CLOCK_BOOTTIME, as the kernel's
    /// start_boottime).
    static func bootTicksNow() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_BOOTTIME, &ts)
        let hz = UInt64(max(1, histd_clock_ticks_per_second()))
        return UInt64(ts.tv_sec) * hz + UInt64(ts.tv_nsec) * hz / 1_000_000_000
    }

    /// Signals exactly this process (pid and start time), through a pidfd so a reused pid is never hit.
    static func signalExact(_ pid: Int32, _ ticks: UInt64, _ sig: Int32) {
        let fd = histd_pidfd_open(pid)
        guard fd >= 0 else { return }
        defer { Sys.close(fd) }
        guard histd_proc_start_ticks(pid) == ticks else { return }
        _ = histd_pidfd_send_signal(fd, sig)
    }

    static func isRunning(_ pid: Int32, _ ticks: UInt64, procfs: ProcFS) -> Bool {
        guard let s = procfs.stat(pid), s.startTicks == ticks else { return false }
        return s.state != "Z" && s.state != "X"
    }
}
