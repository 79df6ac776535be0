#if canImport(Glibc)
import Glibc
#endif
import HistModel

/// One system-wide pass over /proc: counts by state, total RSS, zombie parents and orphans.
///
/// Reads every process's `stat` once; `cmdline` and `status` only for zombie parents and orphan
/// candidates. Produces per-scan sightings; the store turns consecutive sightings into intervals.
/// Not thread-safe (owns a `ProcFS`).
public final class SystemScanner {
    public let procfs: ProcFS
    /// `orphan_ignore` patterns from the config.
    public var orphanIgnore: [String]
    private var userNames: [UInt32: String] = [:]

    public init(procfs: ProcFS = ProcFS(), orphanIgnore: [String] = []) {
        self.procfs = procfs
        self.orphanIgnore = orphanIgnore
    }

    /// Scans once. Pass `supervisor` when running inside histd (for exact attribution of adopted
    /// orphans), nil in cron mode.
    public func scan(at time: Timestamp = .now(), supervisor: SupervisorView? = nil) -> ScanReport {
        var table: [Int32: ProcStat] = [:]
        let pids = procfs.allPids()
        table.reserveCapacity(pids.count)
        var summary = ScanSummary()
        let page = UInt64(procfs.pageSize)
        for pid in pids {
            guard let s = procfs.stat(pid) else { continue }  // vanished mid-scan
            table[pid] = s
            summary.total += 1
            summary.totalRSSBytes &+= s.rssPages &* page
            switch s.stateByte {
            case UInt8(ascii: "R"): summary.running += 1
            case UInt8(ascii: "S"), UInt8(ascii: "I"): summary.sleeping += 1
            case UInt8(ascii: "D"): summary.diskSleep += 1
            case UInt8(ascii: "Z"): summary.zombie += 1
            case UInt8(ascii: "T"), UInt8(ascii: "t"): summary.stopped += 1
            default: summary.other += 1
            }
        }

        // Zombies grouped by parent.
        var zombiesByParent: [Int32: Int] = [:]
        for s in table.values where s.stateByte == UInt8(ascii: "Z") {
            zombiesByParent[s.ppid, default: 0] += 1
        }
        var zombieParents: [ZombieParentSighting] = []
        for (ppid, count) in zombiesByParent.sorted(by: { $0.key < $1.key }) {
            guard let parent = table[ppid] else { continue }  // parent exited mid-scan: the zombies go with it
            zombieParents.append(ZombieParentSighting(
                parent: parent.identity, parentName: parent.comm,
                parentCmdline: procfs.cmdline(ppid) ?? "", zombies: count))
        }

        // Orphans.
        let rule = OrphanRule(supervisor: supervisor, ignorePatterns: orphanIgnore)
        var orphans: [OrphanSighting] = []
        for pid in table.keys.sorted() {
            let s = table[pid]!
            guard let reason = rule.judge(s, table: table) else { continue }
            guard let cmdline = procfs.cmdline(pid) else { continue }  // gone since
            if rule.isIgnored(name: s.comm, cmdline: cmdline) { continue }
            let uid = procfs.status(pid)?.uid
            orphans.append(OrphanSighting(
                identity: s.identity, name: s.comm, cmdline: cmdline,
                user: uid.map(userName) ?? "",
                startedAt: procfs.wallClock(startTicks: s.startTicks),
                program: reason == .adoptedByHistd ? rule.program(of: s) : nil,
                reason: reason))
        }
        // A reader with an fd cache keeps the fds of processes still listed; those of exited ones
        // (never read again) are closed here rather than held until the cache is full.
        if procfs.cachedFDCount > 0 { procfs.retainCached(only: Set(table.keys)) }
        return ScanReport(time: time, summary: summary, zombieParents: zombieParents, orphans: orphans)
    }

    /// The user name for a uid (getpwuid_r), cached; the number as text when there is none.
    private func userName(_ uid: UInt32) -> String {
        if let cached = userNames[uid] { return cached }
        var pwd = passwd()
        var result: UnsafeMutablePointer<passwd>?
        var buffer = [CChar](repeating: 0, count: 4096)
        let name: String
        if getpwuid_r(uid, &pwd, &buffer, buffer.count, &result) == 0, result != nil, let p = pwd.pw_name {
            name = String(cString: p)
        } else {
            name = String(uid)
        }
        userNames[uid] = name
        return name
    }
}
