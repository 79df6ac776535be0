#if canImport(Glibc)
import Glibc
#endif
import HistModel
import HistProc
import Testing
import TestThreads
import HistTestSupport

@Suite("TreeSampler on real process trees", .serialized, .blocking)
struct TreeSamplerTests {
    @Test("a shell with 3 children is one tree of 4 processes; a child's exit just shrinks it")
    func realTree() throws {
        let shell = try TestProc.spawn(["/bin/sh", "-c", "sleep 30 & sleep 30 & sleep 30 & wait"])
        defer { TestProc.killAndReap(shell) }
        let proc = ProcFS()
        var kids: [PinnedProcess] = []
        // Reaped by the shell, or by us as subreaper; by identity, since kids[0] dies mid-test.
        defer { for k in kids { k.kill() } }

        let sampler = TreeSampler(procfs: proc)
        let identity = try #require(proc.identity(of: shell))
        #expect(TestProc.eventually { sampler.sample(instance: 1, identity: identity)?.processes == 4 })
        kids = proc.descendants(of: shell).compactMap { PinnedProcess($0, includingZombie: true) }
        #expect(kids.count == 3)

        let samples = sampler.sample([(instance: 7, identity: identity)])
        let s = try #require(samples.first)
        #expect(samples.count == 1)
        #expect(s.instance == 7)
        #expect(s.processes == 4)
        #expect(s.threads >= 4)
        #expect(s.rssBytes > 0)
        #expect(s.vszBytes >= s.rssBytes)
        #expect(s.fds >= 3)
        #expect(["S", "R"].contains(s.state))

        // One child exits mid-life: the sampler neither crashes nor counts it.
        kill(kids[0].pid, SIGKILL)
        #expect(TestProc.eventually { sampler.sample(instance: 1, identity: identity)?.processes == 3 })
        // The root's own exit: no sample at all.
        TestProc.killAndReap(shell)
        #expect(sampler.sample([(instance: 7, identity: identity)]).isEmpty)
    }

    @Test("a root whose start ticks no longer match (pid reused) is skipped")
    func pidReuse() throws {
        let child = try TestProc.spawn(["/bin/sleep", "30"])
        defer { TestProc.killAndReap(child) }
        let proc = ProcFS()
        let real = try #require(proc.identity(of: child))
        let stale = ProcessIdentity(pid: child, startTicks: real.startTicks &- 1)
        let sampler = TreeSampler(procfs: proc)
        let samples = sampler.sample([(instance: 1, identity: stale), (instance: 2, identity: real)])
        #expect(samples.map(\.instance) == [2])
        #expect(!proc.isAlive(stale))
        #expect(proc.isAlive(real))
    }

    @Test("CPU totals keep the time of descendants reaped below the root (monotonic counter)")
    func cpuAccounting() throws {
        // root sh -> middle sh -> subshell that burns ~0.5 s of CPU and exits. The *middle* shell
        // reaps it, so its time moves into the middle shell's cutime, not the root's.
        let script = "/bin/sh -c '(i=0; while [ $i -lt 150000 ]; do i=$((i+1)); done); exec sleep 30'; sleep 30"
        let shell = try TestProc.spawn(["/bin/sh", "-c", script])
        let proc = ProcFS()
        var tree: [PinnedProcess] = []
        // The root first: killed after the middle shell, it would start its trailing sleep.
        defer {
            TestProc.killAndReap(shell)
            for p in tree { p.kill() }
        }
        let identity = try #require(proc.identity(of: shell))
        let sampler = TreeSampler(procfs: proc)
        var last: UInt64 = 0
        var drops = 0
        let finished = TestProc.eventually(15) {
            guard let s = sampler.sample(instance: 1, identity: identity) else { return true }
            let total = s.utimeTicks + s.stimeTicks
            if total < last { drops += 1 }
            last = max(last, total)
            tree = proc.descendants(of: shell).compactMap { PinnedProcess($0, includingZombie: true) }
            return tree.count == 1 && proc.stat(tree[0].pid)?.comm == "sleep"
        }
        #expect(finished)
        let after = try #require(sampler.sample(instance: 1, identity: identity))
        #expect(drops == 0)
        // The burnt CPU is still counted after the burner was reaped by the middle shell.
        #expect(after.utimeTicks + after.stimeTicks >= last)
        #expect(after.utimeTicks > 0)
    }

    @Test("cached fds: a dead process reads as gone, and the cache follows the trees")
    func fdCache() throws {
        let proc = ProcFS(cacheLimit: 64)
        let child = try TestProc.spawn(["/bin/sleep", "30"])
        defer { TestProc.killAndReap(child) }
        let first = try #require(proc.stat(child))
        #expect(proc.statm(child) != nil)
        #expect(proc.cachedFDCount == 2)
        // pread on the cached fd sees fresh data (same process).
        #expect(proc.stat(child)?.startTicks == first.startTicks)
        TestProc.killAndReap(child)
        // The cached fd belongs to the dead process: ESRCH, dropped; the pid is free again.
        let after = proc.stat(child)
        #expect(after == nil || after?.startTicks != first.startTicks)
        proc.retainCached(only: [])
        #expect(proc.cachedFDCount == 0)

        // The sampler keeps fds only for processes in the trees it sampled.
        let sampler = TreeSampler(procfs: ProcFS(cacheLimit: 64))
        let me = try #require(sampler.procfs.identity(of: getpid()))
        _ = sampler.sample([(instance: 1, identity: me)])
        #expect(sampler.procfs.cachedFDCount >= 1)
        _ = sampler.sample([])
        #expect(sampler.procfs.cachedFDCount == 0)
    }

    @Test("sweep timing over ~1000 reads (prints; no timing assertion)")
    func sweepTiming() {
        let proc = ProcFS(cacheLimit: 8192)
        let pids = proc.allPids()
        var list: [Int32] = []
        while list.count < 1000 { list += pids }
        list = Array(list.prefix(1000))
        _ = proc.sweep(pids: list)  // warm
        let start = MonotonicInstant.now()
        let rounds = 5
        var counts = SweepCounts()
        for _ in 0..<rounds { counts = proc.sweep(pids: list) }
        let perSweep = MonotonicInstant.now().since(start) / rounds
        print("ProcFS.sweep (cached fds): 1000 stat+statm reads (\(pids.count) distinct pids) in \(perSweep) per sweep (debug build unless -c release)")
        #expect(counts.read > 0)
    }
}

/// The fd count through a cached O_PATH fd follows the process's real fd table.
///
/// It counts a child shell's fds, not the test process's own: other suites open and close fds in this
/// process at the same time, so its count is not ours to predict (CI saw it move under this test).
@Suite(.blocking) struct CachedFDCountTests {
    @Test func cachedCountTracksOpenFDs() throws {
        let dir = TestProc.tempDir("fdcount")
        defer { TestProc.removeTree(dir) }
        let (ready, go, opened) = (dir + "/ready", dir + "/go", dir + "/opened")
        // The shell inherits whatever fds below histd_spawn's slots this process left open, 3 to 5
        // among them, and `exec 3<` would only replace those: so it closes 3 to 9 first. Then it
        // says ready, waits for `go`, opens three fds and says so, with `touch` (a child: a builtin's
        // redirection would move the shell's own fds while we count). Between the files its fd table
        // is its own and does not change.
        let script = "exec 3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&-; touch \(ready); "
            + "while [ ! -e \(go) ]; do sleep 0.01; done; "
            + "exec 3</dev/null 4</dev/null 5</dev/null; touch \(opened); sleep 30"
        let shell = try TestProc.spawn(["/bin/sh", "-c", script])
        defer {
            // The trailing sleep is the shell's child (an exec would change the fd table under the count):
            // pinned before the shell dies, or it outlives the test as init's.
            let left = ProcFS().descendants(of: shell).compactMap { PinnedProcess($0) }
            TestProc.killAndReap(shell)
            for p in left { p.kill() }
        }
        try #require(TestProc.eventually { access(ready, F_OK) == 0 })
        let cached = ProcFS(cacheLimit: 16)
        let plain = ProcFS()
        let before = try #require(cached.fdCount(shell))
        #expect(before >= 3)
        #expect(before == plain.fdCount(shell))
        #expect(cached.cachedFDCount >= 1)
        TestProc.writeFile(go, "")
        try #require(TestProc.eventually { access(opened, F_OK) == 0 })
        // The same cached fd now sees the three new ones.
        #expect(cached.fdCount(shell) == before + 3)
        #expect(cached.fdCount(shell) == plain.fdCount(shell))
        #expect(cached.fdCount(999_999_999) == nil)
    }
}
