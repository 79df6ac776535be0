import HistModel

/// Samples the process trees of supervised instances: one `InstanceSample` per live root.
///
/// Not thread-safe (it owns a `ProcFS` and its buffers): the engine keeps one per sampling task.
public final class TreeSampler {
    public let procfs: ProcFS

    /// The default reader keeps up to 4,096 `stat`/`children` fds open between sweeps (pread
    /// instead of open/read/close: about half the cost per process).
    public init(procfs: ProcFS = ProcFS(cacheLimit: 4096)) {
        self.procfs = procfs
    }

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
        for root in roots {
            if let s = sampleTree(instance: root.instance, identity: root.identity, visited: &visited) { out.append(s) }
        }
        // Keep cached fds only for processes still in some tree.
        procfs.retainCached(only: visited)
        return out
    }

    /// One root (same rules as the batch form); nil if it is gone or its pid was reused. Prefer
    /// the batch form for a whole sweep: this one keeps the fd cache for this tree only.
    public func sample(instance: InstanceID, identity: ProcessIdentity) -> InstanceSample? {
        sample([(instance: instance, identity: identity)]).first
    }

    private func sampleTree(instance: InstanceID, identity: ProcessIdentity, visited: inout Set<Int32>) -> InstanceSample? {
        guard let rootStat = procfs.stat(identity.pid), rootStat.startTicks == identity.startTicks else { return nil }
        let page = UInt64(procfs.pageSize)
        var sample = InstanceSample(
            instance: instance, state: rootStat.state,
            utimeTicks: 0, stimeTicks: 0, rssBytes: 0, vszBytes: 0, threads: 0,
            fds: procfs.fdCount(identity.pid) ?? -1, processes: 0)

        func add(_ s: ProcStat) {
            sample.utimeTicks &+= s.utime &+ s.cutime
            sample.stimeTicks &+= s.stime &+ s.cstime
            sample.rssBytes &+= s.rssPages &* page
            sample.vszBytes &+= s.vsizeBytes
            sample.threads &+= s.threads
            sample.processes += 1
        }

        add(rootStat)
        visited.insert(identity.pid)
        // Breadth-first over children files; `seen` guards against a pid that is reused while we
        // walk and shows up twice.
        var seen: Set<Int32> = [identity.pid]
        var queue: [(pid: Int32, threads: Int32)] = [(identity.pid, rootStat.threads)]
        var head = 0
        while head < queue.count {
            let (pid, threads) = queue[head]
            head += 1
            for child in procfs.children(of: pid, threads: threads) where seen.insert(child).inserted {
                // Gone between the children read and now: it simply isn't part of the tree any more.
                guard let s = procfs.stat(child), s.ppid == pid else { continue }
                add(s)
                visited.insert(child)
                queue.append((child, s.threads))
            }
        }
        return sample
    }
}
