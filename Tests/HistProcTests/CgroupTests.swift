#if canImport(Glibc)
import Glibc
#endif
import CShim
import HistModel
@testable import HistProc
import Testing
import TestThreads
import HistTestSupport

@Suite("cgroup detection from mountinfo text")
struct CgroupDetectionTests {
    // This machine's layout: v1 controllers each on its own mount, a cgroup2 mount offering only hugetlb.
    let hybridMountinfo = """
        31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
        32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
        33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
        35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
        39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
        40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
        41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
        """
    let hybridCgroup = "9:name=systemd:/\n8:pids:/\n4:memory:/process_api/abc\n2:cpuacct:/\n1:cpu:/\n0::/\n"

    @Test("hybrid machine: memory/pids/cpu come from v1, under histd's own groups")
    func hybrid() {
        let files = ["/sys/fs/cgroup/unified/cgroup.controllers": "hugetlb\n",
                     "/sys/fs/cgroup/unified/cgroup.subtree_control": ""]
        let c = Cgroups.detect(mountinfo: hybridMountinfo, procCgroup: hybridCgroup,
                               isWritable: { _ in true }, readFile: { files[$0] })
        #expect(c.unavailableReason == nil)
        #expect(c.hierarchies[.memory] == CgroupHierarchy(resource: .memory, version: .v1,
                                                           ownDirectory: "/sys/fs/cgroup/memory/process_api/abc"))
        #expect(c.hierarchies[.pids]?.ownDirectory == "/sys/fs/cgroup/pids")
        #expect(c.hierarchies[.cpu]?.version == .v1)
        #expect(c.hierarchies[.cpu]?.ownDirectory == "/sys/fs/cgroup/cpu")
    }

    @Test("combined cpu,cpuacct mount and a bind-mounted sub-tree")
    func combinedMount() {
        let mi = "50 1 0:40 /docker/x /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n"
        let pc = "3:cpu,cpuacct:/docker/x/app\n"
        let c = Cgroups.detect(mountinfo: mi, procCgroup: pc, isWritable: { _ in true }, readFile: { _ in nil })
        #expect(c.hierarchies[.cpu]?.ownDirectory == "/sys/fs/cgroup/cpu,cpuacct/app")
        #expect(c.hierarchies[.memory] == nil)
        #expect(c.missing[.memory]?.contains("no cgroup v1 memory hierarchy") == true)
    }

    @Test("pure v2 with delegated controllers is preferred over v1")
    func pureV2() {
        let mi = "30 1 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n"
        let pc = "0::/user.slice/histd.service\n"
        let own = "/sys/fs/cgroup/user.slice/histd.service"
        let files = [own + "/cgroup.controllers": "cpu io memory pids\n",
                     own + "/cgroup.subtree_control": "memory pids\n"]
        let c = Cgroups.detect(mountinfo: mi, procCgroup: pc, isWritable: { _ in true }, readFile: { files[$0] })
        #expect(c.hierarchies[.memory] == CgroupHierarchy(resource: .memory, version: .v2, ownDirectory: own))
        #expect(c.hierarchies[.pids]?.version == .v2)
        // Offered but not delegated, in a group that has processes: unusable, with the reason.
        #expect(c.hierarchies[.cpu] == nil)
        #expect(c.missing[.cpu]?.contains("subtree_control") == true)
    }

    @Test("nothing usable: one clear reason naming each controller")
    func unavailable() throws {
        let none = Cgroups.detect(mountinfo: "", procCgroup: "", isWritable: { _ in true }, readFile: { _ in nil })
        let reason = try #require(none.unavailableReason)
        #expect(reason.contains("memory") && reason.contains("pids") && reason.contains("cpu"))
        let notRoot = Cgroups.detect(mountinfo: hybridMountinfo, procCgroup: hybridCgroup,
                                     isWritable: { _ in false }, readFile: { _ in "hugetlb\n" })
        #expect(notRoot.unavailableReason?.contains("not writable") == true)
        #expect(throws: CgroupError.self) { try notRoot.create(program: "x", limits: CgroupLimits(memoryMax: 1 << 20)) }
    }

    /// The cgroup v2 files histd writes and reads, on a fixture tree shaped like a delegated v2 group
    /// (this machine's v2 mount offers no memory controller; CgroupLiveTests and the end-to-end
    /// `cgroupV2MemoryMax...` test run the real thing where it does).
    @Test("cgroup v2 files: subtree_control, memory.max, cpu.max, pids.max written; memory.events and pids.events read")
    func v2Files() throws {
        let own = TestProc.tempDir("v2-fixture")
        defer { TestProc.removeTree(own) }
        let parent = own + "/histd-test", leaf = parent + "/web"
        TestProc.makeDir(parent)
        TestProc.makeDir(leaf)
        // The kernel provides these files; in the fixture they exist empty (writes neither create nor truncate).
        TestProc.writeFile(parent + "/cgroup.subtree_control", "")
        for f in ["memory.max", "cpu.max", "pids.max", "cgroup.procs", "cgroup.kill"] { TestProc.writeFile(leaf + "/" + f, "") }
        let cgroups = Cgroups(hierarchies: Dictionary(uniqueKeysWithValues: CgroupResource.allCases.map {
            ($0, CgroupHierarchy(resource: $0, version: .v2, ownDirectory: own))
        }), missing: [:])
        let group = try cgroups.create(program: "web", limits: CgroupLimits(memoryMax: 32 << 20, cpuQuotaPercent: 25, tasksMax: 7),
                                       parentName: "histd-test")
        #expect(group.groups == [CgroupController.Group(directory: leaf, version: .v2, resources: [.memory, .pids, .cpu])])
        #expect(group.procsFiles == [leaf + "/cgroup.procs"])
        #expect(TestProc.readFile(parent + "/cgroup.subtree_control") == "+cpu +memory +pids")
        #expect(TestProc.readFile(leaf + "/memory.max") == "\(32 << 20)")
        #expect(TestProc.readFile(leaf + "/cpu.max") == "25000 100000")
        #expect(TestProc.readFile(leaf + "/pids.max") == "7")
        // The counters the watcher turns into limit_breach rows (cgroup_memory/oom_kill, tasks_max/fork_refused).
        TestProc.writeFile(leaf + "/memory.events", "low 0\nhigh 0\nmax 12\noom 2\noom_kill 1\n")
        TestProc.writeFile(leaf + "/pids.events", "max 3\n")
        TestProc.writeFile(leaf + "/memory.current", "33554432\n")
        #expect(group.oomKillCount() == 1)
        #expect(group.memoryLimitHits() == 12)
        #expect(group.pidsLimitHits() == 3)
        #expect(group.memoryCurrent() == 32 << 20)
        // SIGKILL on v2 writes cgroup.kill (the kernel's atomic kill) before polling the group empty.
        #expect(group.killAll(timeout: .seconds(1)).isEmpty)
        #expect(TestProc.readFile(leaf + "/cgroup.kill") == "1")
    }

    @Test("mountinfo octal escapes are decoded")
    func unescape() {
        #expect(CgroupMount.unescape("/mnt/with\\040space") == "/mnt/with space")
        #expect(CgroupMount.unescape("/plain") == "/plain")
    }
}

/// Real cgroups: these need root and the controllers they use; without them they show as skipped.
@Suite("cgroups on this machine", .serialized, .blocking)
struct CgroupLiveTests {
    let parentName = "histd-test-\(getpid())"

    /// Whether this process can create groups with `needed` here: root, and each controller detected.
    static func usable(_ needed: [CgroupResource]) -> Bool {
        guard geteuid() == 0 else { return false }
        let c = Cgroups.detect()
        return needed.allSatisfy { c.hierarchies[$0] != nil }
    }

    func cleanup(_ group: CgroupController, _ cgroups: Cgroups) {
        group.killAll(timeout: .seconds(5))
        try? group.remove()
        cgroups.removeParents(parentName: parentName)
    }

    @Test("detect() on this machine names every controller it found or why not")
    func detectHere() {
        let c = Cgroups.detect()
        print(c.summary)
        #expect(c.hierarchies.count + c.missing.count == CgroupResource.allCases.count)
    }

    @Test("memory_max 32M: a process allocating 100 MB is OOM-killed and counted",
          .enabled(if: usable([.memory]), "needs root and the memory cgroup controller"))
    func oomKill() throws {
        let cgroups = Cgroups.detect()
        let group = try cgroups.create(program: "oom", limits: CgroupLimits(memoryMax: 32 << 20), parentName: parentName)
        defer { cleanup(group, cgroups) }
        #expect(group.oomKillCount() == 0)
        let code = "import time\nb = b'x' * (100 << 20)\ntime.sleep(30)\n"
        let pid = try TestProc.spawn(["/usr/bin/env", "python3", "-c", code], cgroupProcs: group.procsFiles)
        defer { TestProc.killAndReap(pid) }
        let status = try #require(TestProc.waitExit(pid, timeout: 20), "the allocating process was not killed")
        #expect(histd_wifsignaled(status) != 0)
        #expect(histd_wtermsig(status) == SIGKILL)
        #expect((group.oomKillCount() ?? 0) >= 1)
        #expect((group.memoryLimitHits() ?? 0) >= 1)
    }

    @Test("tasks_max 10 contains a fork bomb; killAll empties the group",
          .enabled(if: usable([.pids]), "needs root and the pids cgroup controller"))
    func forkBomb() throws {
        let cgroups = Cgroups.detect()
        let group = try cgroups.create(program: "bomb", limits: CgroupLimits(tasksMax: 10), parentName: parentName)
        defer { cleanup(group, cgroups) }
        let script = "i=0; while [ $i -lt 50 ]; do sleep 30 & i=$((i+1)); done; sleep 30"
        let shell = try TestProc.spawn(["/bin/sh", "-c", script], newSession: true, cgroupProcs: group.procsFiles)
        defer { TestProc.killAndReap(shell) }
        #expect(TestProc.eventually(10) { (group.pidsLimitHits() ?? 0) > 0 })
        let alive = group.pids()
        #expect(!alive.isEmpty)
        #expect(alive.count <= 10)
        #expect(group.killAll(timeout: .seconds(5)).isEmpty)
        #expect(group.pids().isEmpty)
        _ = TestProc.waitExit(shell, timeout: 5)
        #expect(throws: Never.self) { try group.remove() }
    }

    @Test("a double-forked grandchild that left the session is still killed by killAll; remove() succeeds",
          .enabled(if: usable([.pids]), "needs root and the pids cgroup controller"))
    func doubleForkEscapee() throws {
        let cgroups = Cgroups.detect()
        let group = try cgroups.create(program: "escape", limits: CgroupLimits(), parentName: parentName)
        defer { cleanup(group, cgroups) }
        let dir = TestProc.tempDir("escape")
        defer { TestProc.removeTree(dir) }
        // The inner shell calls setsid (new session and group), backgrounds a sleep and exits: the
        // sleep is a double-forked escapee, outside the program's process group and session.
        let script = "setsid /bin/sh -c 'sleep 300 & echo $! > \(dir)/pid' ; sleep 300"
        let shell = try TestProc.spawn(["/bin/sh", "-c", script], newSession: true, cgroupProcs: group.procsFiles)
        defer { TestProc.killAndReap(shell) }
        #expect(TestProc.eventually { Int32((TestProc.readFile(dir + "/pid") ?? "").trimmed) != nil })
        let escapee = try #require(Int32((TestProc.readFile(dir + "/pid") ?? "").trimmed))
        let pinnedEscapee = PinnedProcess(escapee, includingZombie: true)
        defer { pinnedEscapee?.kill() }
        let proc = ProcFS()
        let escapeeStat = try #require(proc.stat(escapee))
        #expect(escapeeStat.session != shell)  // it really left the program's session
        #expect(group.pids().contains(escapee))

        #expect(group.killAll(timeout: .seconds(5)).isEmpty)
        // Gone, or a zombie waiting for its (new) parent to reap it.
        let after = proc.stat(escapee)
        #expect(after == nil || after?.startTicks != escapeeStat.startTicks || after?.state == "Z")
        _ = TestProc.waitExit(shell, timeout: 5)
        #expect(throws: Never.self) { try group.remove() }
        #expect(access(group.groups[0].directory, F_OK) != 0)
    }

    @Test("limits are written to the controller files; cpu quota 50% -> 50000/100000",
          .enabled(if: usable([.memory, .pids, .cpu]), "needs root and the memory, pids and cpu cgroup controllers"))
    func limitFiles() throws {
        let cgroups = Cgroups.detect()
        let group = try cgroups.create(program: "files",
                                       limits: CgroupLimits(memoryMax: 64 << 20, cpuQuotaPercent: 50, tasksMax: 20),
                                       parentName: parentName)
        defer { cleanup(group, cgroups) }
        #expect(Set(group.groups.flatMap(\.resources)) == [.memory, .pids, .cpu])
        for g in group.groups {
            for r in g.resources {
            switch (g.version, r) {
            case (.v1, .memory): #expect(TestProc.readFile(g.directory + "/memory.limit_in_bytes")?.trimmed == "\(64 << 20)")
            case (.v1, .cpu):
                #expect(TestProc.readFile(g.directory + "/cpu.cfs_quota_us")?.trimmed == "50000")
                #expect(TestProc.readFile(g.directory + "/cpu.cfs_period_us")?.trimmed == "100000")
            case (_, .pids): #expect(TestProc.readFile(g.directory + "/pids.max")?.trimmed == "20")
            case (.v2, .memory): #expect(TestProc.readFile(g.directory + "/memory.max")?.trimmed == "\(64 << 20)")
            case (.v2, .cpu): #expect(TestProc.readFile(g.directory + "/cpu.max")?.trimmed == "50000 100000")
            }
            }
        }
        // A process joins every group before exec.
        let pid = try TestProc.spawn(["/bin/sleep", "30"], cgroupProcs: group.procsFiles)
        defer { TestProc.killAndReap(pid) }
        for file in group.procsFiles {
            #expect(TestProc.readFile(file)?.split(separator: "\n").contains(Substring(String(pid))) == true)
        }
        #expect(group.pids() == [pid])
        // Removing a populated group fails with a clear error.
        #expect(throws: CgroupError.self) { try group.remove() }
    }
}

@Suite("LimitChecker")
struct LimitCheckerTests {
    func sample(rss: UInt64) -> InstanceSample {
        InstanceSample(instance: 1, state: "S", utimeTicks: 0, stimeTicks: 0, rssBytes: rss, vszBytes: rss,
                       threads: 1, fds: 3, processes: 1)
    }

    @Test("max_memory_mb compares tree RSS in MiB, strictly above")
    func memory() {
        let spec = ProgramSpec(name: "p", command: ["/bin/true"], maxMemoryMB: 64)
        #expect(LimitChecker.check(spec, sample(rss: 64 << 20)) == nil)
        #expect(LimitChecker.check(spec, sample(rss: (64 << 20) + 1))
                == LimitBreach(limit: .maxMemory, observed: (64 << 20) + 1, threshold: 64 << 20))
        #expect(LimitChecker.check(ProgramSpec(name: "p", command: ["/bin/true"]), sample(rss: 1 << 40)) == nil)
    }
}
