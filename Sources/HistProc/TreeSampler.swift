import HistModel

/// Samples the process trees of supervised instances: one `InstanceSample` per live root.
///
/// Not thread-safe (it owns a `ProcFS` and its buffers): the engine keeps one per sampling task.
public final class TreeSampler {
    public let procfs: ProcFS

    /// The default reader keeps up to 4,096 `stat`/`children` fds open between sweeps (pread
    /// instead of open/read/close: about half the cost per process).
    ///
    /// `skipQuiet` (the default) answers for processes that have not run since the last sweep from what
    /// was read then (see `visit`); false reads every process in full every sweep (for comparisons).
    public init(procfs: ProcFS = ProcFS(cacheLimit: 4096), skipQuiet: Bool = true) {
        self.procfs = procfs
        self.skipQuiet = skipQuiet
    }

    /// Whether quiet processes are answered from their last full read.
    public let skipQuiet: Bool

    /// Samples each root and its live descendants.
    ///
    /// A root is skipped (no sample) when its pid is gone or now names another process (its start
    /// ticks differ: the pid was reused). Totals, as `InstanceSample` documents them:
    /// - utime/stime: the sum over every live process of the tree of its own time **plus its
    ///   cutime/cstime** (time of children it has reaped). For the root that is exactly "root's
    ///   cutime"; counting the reaped time of live descendants too keeps the counter monotonic
    ///   when a grandchild is reaped by its (live) parent rather than by the root.
    /// - rss/vsz: summed bytes; threads: summed; processes: count of the tree;
    /// - fds: open fds of the root (-1 if unreadable); state: the root's state letter.
    public func sample(_ roots: [(instance: InstanceID, identity: ProcessIdentity)]) -> [InstanceSample] {
        var out: [InstanceSample] = []
        out.reserveCapacity(roots.count)
        var visited = Set<Int32>()
        busy.removeAll(keepingCapacity: true)
        for root in roots {
            if let s = sampleTree(instance: root.instance, identity: root.identity, visited: &visited) { out.append(s) }
        }
        // Keep cached fds only for processes still in some tree, and of quiet ones only schedstat (none
        // where run stamps are CPU clocks).
        procfs.retainCached(only: visited, fullFiles: busy)
        if memos.count > visited.count { memos = memos.filter { visited.contains($0.key) } }
        return out
    }

    /// What the last full read of a process said, kept to answer for it while it does not run.
    private struct Memo {
        var stamp: RunStamp
        var stat: ProcStat
        var children: [Int32]
        /// The fd count, for a root (nil: not read, the process was sampled as a descendant).
        var fds: Int32?
        /// Sweeps answered from this memo since `stat` was read.
        var carried: Int
    }

    /// By pid; only processes whose last read gave a run stamp.
    private var memos: [Int32: Memo] = [:]
    /// Pids read in full in the current sweep (their stat/children/fd fds stay cached).
    private var busy = Set<Int32>()

    /// How many sweeps in a row a quiet process may be answered from its memo before its `stat` is
    /// read again. A process that has not run cannot have changed its CPU time, state, threads,
    /// children, fds or address space; only its resident set can shrink (reclaim, swap-out), so rss is
    /// at most this many sweeps old.
    public static let refreshEvery = 10

    /// One process of a tree: its stat, its direct children and (`wantFDs`) its fd count; nil if gone.
    ///
    /// A process whose run stamp (ProcFS.runStamp: its CPU clock, or its main thread's schedstat
    /// through a kept fd) equals the last sweep's has not been on a CPU since: its last stat, children
    /// and fd count still hold, and one cheap read replaces three (stat alone is the most expensive
    /// file to generate). A child that exited meanwhile is found gone when its own stamp is read.
    /// A schedstat stamp covers the main thread only, so a multi-threaded process is then read in full.
    ///
    /// A clock is looked up by pid, so equal nanoseconds could in principle come from another process
    /// that took a dead one's pid: it would have to have run exactly as long, to the nanosecond. The
    /// refresh read of stat compares the start time too, and a mismatch is read in full as the new
    /// process it is, so even that case is answered for at most `refreshEvery` sweeps.
    private func visit(_ pid: Int32, wantFDs: Bool) -> (stat: ProcStat, children: [Int32], fds: Int32?)? {
        let stamp = skipQuiet ? procfs.runStamp(pid) : nil
        if let stamp, var memo = memos[pid], memo.stamp.counters == stamp.counters,
           memo.stamp.coversAllThreads == stamp.coversAllThreads,
           // A schedstat stamp counts only when read through the fd kept since the memo's read.
           stamp.boundToProcess || stamp.coversAllThreads,
           memo.stat.threads == 1 || stamp.coversAllThreads, !wantFDs || memo.fds != nil {
            if memo.carried + 1 < Self.refreshEvery {
                memo.carried += 1
                memos[pid] = memo
                return (memo.stat, memo.children, memo.fds)
            }
            // Due for a fresh rss: stat only; children and fds cannot have changed.
            guard let stat = procfs.stat(pid) else { memos[pid] = nil; return nil }
            if stat.startTicks == memo.stat.startTicks {
                memo.stat = stat
                memo.carried = 0
                memos[pid] = memo
                return (stat, memo.children, memo.fds)
            }
            // Another process has the pid now: read it in full below.
        }
        busy.insert(pid)
        guard let stat = procfs.stat(pid) else { memos[pid] = nil; return nil }
        let fds = wantFDs ? procfs.fdCount(pid) ?? -1 : nil
        let children = procfs.children(of: pid, threads: stat.threads)
        if let stamp {
            memos[pid] = Memo(stamp: stamp, stat: stat, children: children, fds: fds, carried: 0)
        } else {
            memos[pid] = nil
        }
        return (stat, children, fds)
    }

    /// One root (same rules as the batch form); nil if it is gone or its pid was reused. Prefer
    /// the batch form for a whole sweep: this one keeps the fd cache for this tree only.
    public func sample(instance: InstanceID, identity: ProcessIdentity) -> InstanceSample? {
        sample([(instance: instance, identity: identity)]).first
    }

    private func sampleTree(instance: InstanceID, identity: ProcessIdentity, visited: inout Set<Int32>) -> InstanceSample? {
        guard let root = visit(identity.pid, wantFDs: true), root.stat.startTicks == identity.startTicks else { return nil }
        let page = UInt64(procfs.pageSize)
        var sample = InstanceSample(
            instance: instance, state: root.stat.state,
            utimeTicks: 0, stimeTicks: 0, rssBytes: 0, vszBytes: 0, threads: 0,
            fds: root.fds ?? -1, processes: 0)

        func add(_ s: ProcStat) {
            sample.utimeTicks &+= s.utime &+ s.cutime
            sample.stimeTicks &+= s.stime &+ s.cstime
            sample.rssBytes &+= s.rssPages &* page
            sample.vszBytes &+= s.vsizeBytes
            sample.threads &+= s.threads
            sample.processes += 1
        }

        add(root.stat)
        visited.insert(identity.pid)
        // Breadth-first over children lists; `seen` guards against a pid that is reused while we
        // walk and shows up twice.
        var seen: Set<Int32> = [identity.pid]
        var queue: [[Int32]] = [root.children]
        var parents: [Int32] = [identity.pid]
        var head = 0
        while head < queue.count {
            let (children, pid) = (queue[head], parents[head])
            head += 1
            for child in children where seen.insert(child).inserted {
                // Gone between the children read and now: it simply isn't part of the tree any more.
                guard let c = visit(child, wantFDs: false), c.stat.ppid == pid else { continue }
                add(c.stat)
                visited.insert(child)
                if !c.children.isEmpty {
                    queue.append(c.children)
                    parents.append(child)
                }
            }
        }
        return sample
    }
}
