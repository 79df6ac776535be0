#if canImport(Glibc)
import Glibc
#endif
import CShim
import HistModel
import HistProc
import Logging
import Testing
import HistTestSupport
@testable import HistCore

/// An instance owns its whole tree: what remains of it when its main process ends is stopped
/// (stop signal, SIGKILL after stop_timeout) on engine timers before the program starts again.
@Suite struct OwnershipTests {
    static let python: String? = ["/usr/bin/python3", "/usr/local/bin/python3"].first { (path: String) in access(path, X_OK) == 0 }

    static func pids(_ text: String?) -> [Int32] {
        (text ?? "").split(whereSeparator: { $0 == " " || $0 == "\n" }).compactMap { Int32($0) }
    }

    /// The pre-fork shape: a master binds 127.0.0.1:PORT and forks 3 workers that accept on the
    /// shared socket. kill -9 of the master must leave no old worker, and the next master must bind
    /// on its first try (a bind failure would exit 98 and leave a `bindfail` file).
    @Test(.enabled(if: python != nil, "needs python3"))
    func preForkMasterKilledLeavesNoWorkerAndTheNextBindsFirstTime() async throws {
        let dir = TempDir()
        defer { dir.remove() }
        let port = try LoopbackHTTP.freePort()
        let master = dir.path + "/master.py"
        dir.write(master, """
            import os, socket, sys, time
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind(("127.0.0.1", \(port)))
            except OSError as e:
                open("\(dir.path)/bindfail", "a").write(str(e) + "\\n")
                sys.exit(98)
            s.listen(16)
            workers = []
            for i in range(3):
                pid = os.fork()
                if pid == 0:
                    while True:
                        c, _ = s.accept()
                        c.close()
                workers.append(pid)
            open("\(dir.path)/workers.%d.tmp" % os.getpid(), "w").write(" ".join(map(str, workers)))
            os.rename("\(dir.path)/workers.%d.tmp" % os.getpid(), "\(dir.path)/workers.%d" % os.getpid())
            while True:
                time.sleep(1)
            """)
        var spec = program("prefork", Self.python!, restart: .always, delay: .milliseconds(50), factor: 1)
        spec.command = [Self.python!, master]
        try await withSupervisor([spec], dir: dir) { sup, sink in
            var first: InstanceInfo?
            #expect(await sink.waitFor(.seconds(20)) { events in
                first = events.compactMap(\.started).first
                return first.map { dir.read(dir.path + "/workers.\($0.identity.pid)") != nil } ?? false
            })
            let firstInstance = try #require(first)
            let oldWorkers = Self.pids(dir.read(dir.path + "/workers.\(firstInstance.identity.pid)"))
            #expect(oldWorkers.count == 3)
            for w in oldWorkers { #expect(isAlive(w)) }
            // Their start times now, while they run: later the pids may belong to other processes.
            let oldPinned = oldWorkers.compactMap { PinnedProcess($0) }
            defer { for w in oldPinned { w.kill() } }

            kill(firstInstance.identity.pid, SIGKILL)
            var second: InstanceInfo?
            #expect(await sink.waitFor(.seconds(20)) { events in
                second = events.compactMap(\.started).dropFirst().first
                return second.map { dir.read(dir.path + "/workers.\($0.identity.pid)") != nil } ?? false
            }, "the second master never bound and forked")
            #expect(dir.read(dir.path + "/bindfail") == nil, "a new master failed to bind: \(dir.read(dir.path + "/bindfail") ?? "")")
            for w in oldPinned { #expect(!w.isAlive, "old worker \(w.pid) survived its master") }
            // Each old worker is recorded: pid, start time, its instance, the signal.
            // The first master's sweep (a starved test may see later masters come and go too).
            let swept = sink.events("prefork").compactMap(\.swept).filter { $0.instance?.id == firstInstance.id }
            #expect(Set(swept.map(\.identity.pid)) == Set(oldWorkers))
            for s in swept {
                #expect(s.instance?.id == firstInstance.id)
                #expect(s.signal == SIGTERM)
                #expect(s.reason == .instanceEnded)
                #expect(s.gone)
                #expect(s.identity.startTicks > 0)
            }
            // The restart came after the sweep, never beside the old workers.
            let events = sink.events("prefork")
            let secondStartIndex = try #require(events.firstIndex { $0.started?.id == second?.id })
            let lastSweptIndex = try #require(events.lastIndex { $0.swept != nil })
            #expect(lastSweptIndex < secondStartIndex)
            _ = sup
        }
    }

    /// A script that starts a long-lived child (its pid in NAME.child.MAINPID), then exits 1 after a moment.
    static func forker(_ dir: TempDir, _ name: String, ignoreTerm: Bool = false) -> String {
        dir.script(name, """
            \(ignoreTerm ? "trap '' TERM" : "")
            sleep 1000 &
            echo $! > \(dir.path)/\(name).child.$$
            sleep 0.3
            exit 1
            """)
    }

    /// The child pid the first instance of `name` wrote.
    static func firstChild(_ dir: TempDir, _ name: String, _ sink: CollectingSink) -> Int32? {
        guard let first = sink.events(name).compactMap(\.started).first else { return nil }
        return pids(dir.read(dir.path + "/\(name).child.\(first.identity.pid)")).first
    }

    @Test func killModeTreeStopsWhatRemainsAndProcessLeavesIt() async throws {
        let dir = TempDir()
        defer { dir.remove() }
        let tree = program("tree", Self.forker(dir, "tree"), delay: .seconds(30))
        var process = program("process", Self.forker(dir, "process"), delay: .seconds(30))
        process.killMode = .process
        var orphans: [PinnedProcess] = []
        defer { for p in orphans { p.kill() } }
        try await withSupervisor([tree, process], dir: dir) { _, sink in
            // Both crash once and wait 30 s in backoff; by then tree's child must be gone. Judged on each
            // program's first instance: a test task starved for 30 s (a loaded 2-core box, the suite's
            // blocking tests holding the cooperative pool) sees the next instances come and go too.
            func first(_ name: String) -> InstanceInfo? { sink.events(name).compactMap(\.started).first }
            func firstSwept(_ name: String) -> [SweptProcess] {
                sink.events(name).compactMap(\.swept).filter { $0.instance?.id != nil && $0.instance?.id == first(name)?.id }
            }
            #expect(await sink.waitFor(.seconds(60)) { events in
                let ended = Set(events.compactMap(\.ended).map(\.instance.id))
                return [first("tree"), first("process")].allSatisfy { $0.map { ended.contains($0.id) } ?? false } && !firstSwept("tree").isEmpty
            })
            let treeChild = try #require(Self.firstChild(dir, "tree", sink))
            let processChild = try #require(Self.firstChild(dir, "process", sink))
            // The process child runs (asserted below); the tree child should be gone, and if it is not, it is pinned too.
            orphans = [treeChild, processChild].compactMap { PinnedProcess($0) }
            // The child by (pid, start time) as the sweep recorded it; without a sweep, by pid.
            if let ticks = firstSwept("tree").first(where: { $0.identity.pid == treeChild })?.identity.startTicks {
                #expect(!isAlive(treeChild, ticks: ticks), "kill_mode = tree left the child running")
            } else {
                #expect(!isAlive(treeChild), "kill_mode = tree left the child running")
            }
            #expect(isAlive(processChild), "kill_mode = process stopped the child")
            #expect(firstSwept("tree").map(\.identity.pid) == [treeChild])
            #expect(firstSwept("process").isEmpty)
        }
    }

    /// kill_mode = "process": an operator stop signals the main process only.
    @Test func killModeProcessStopSignalsTheMainProcessOnly() async throws {
        let dir = TempDir()
        defer { dir.remove() }
        let script = dir.script("main", """
            sleep 1000 &
            echo $! > \(dir.path)/child
            exec sleep 1000
            """)
        var spec = program("p", script)
        spec.killMode = .process
        var child: Int32 = 0, pinned: PinnedProcess?
        defer { pinned?.kill() }
        try await withSupervisor([spec], dir: dir) { sup, sink in
            #expect(await sink.waitFor { _ in dir.read(dir.path + "/child").map { !Self.pids($0).isEmpty } ?? false })
            child = Self.pids(dir.read(dir.path + "/child")).first ?? 0
            pinned = PinnedProcess(child)
            sup.post(.stop(program: "p"))
            #expect(await sink.waitFor { $0.contains { $0.ended != nil } })
            #expect(isAlive(child))
        }
    }

    /// A drain blocked on a process that ignores the stop signal lasts stop_timeout; meanwhile
    /// another program's crash loop goes on restarting (the engine never waits on the drain).
    /// With cgroups (root), the stuck process also sits in the program's cgroup.
    @Test func blockedDrainDoesNotDelayAnotherProgramsRestart() async throws {
        try await Self.blockedDrain(resources: NoProgramResources(), cgroup: nil)
    }

    static let cgroupsUsable: Bool = getuid() == 0 && Cgroups.detect().unavailableReason == nil

    @Test(.enabled(if: cgroupsUsable, "needs root and a cgroup controller"))
    func blockedCgroupDrainDoesNotDelayAnotherProgramsRestart() async throws {
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let resources = CgroupResources(cgroups: Cgroups.detect(), logger: logger)
        try await Self.blockedDrain(resources: resources, cgroup: CgroupLimits())
        resources.removeParents()
    }

    static func blockedDrain(resources: any ProgramResources, cgroup: CgroupLimits?) async throws {
        let dir = TempDir()
        defer { dir.remove() }
        var stuck = program("stuck", forker(dir, "stuck", ignoreTerm: true), delay: .milliseconds(50), stopTimeout: .seconds(3))
        stuck.cgroup = cgroup
        let looper = program("looper", dir.script("looper", "sleep 0.05; exit 1"), delay: .milliseconds(50), factor: 1)
        var child: Int32 = 0, pinned: PinnedProcess?
        defer { pinned?.kill() }
        try await withSupervisor([stuck, looper], dir: dir, resources: resources) { _, sink in
            #expect(await sink.waitFor { _ in firstChild(dir, "stuck", sink) != nil })
            child = firstChild(dir, "stuck", sink) ?? 0
            pinned = PinnedProcess(child)
            #expect(await sink.waitFor(.seconds(30)) { $0.contains { $0.program == "stuck" && $0.swept != nil } })
            let events = sink.events
            let stuckEnd = try #require(events.firstIndex { $0.program == "stuck" && $0.ended != nil })
            let swept = try #require(events.firstIndex { $0.program == "stuck" && $0.swept != nil })
            #expect(events[swept].swept?.signal == SIGKILL, "the child ignores SIGTERM: only SIGKILL after stop_timeout ends it")
            #expect(events[swept].swept?.identity.pid == child)
            // looper restarted again and again while stuck's drain waited out its 3 s stop_timeout.
            let looperStarts = events[stuckEnd..<swept].filter { $0.program == "looper" && $0.started != nil }.count
            #expect(looperStarts >= 5, "only \(looperStarts) looper starts during a 3 s drain")
            // stuck itself restarts only after its drain.
            let stuckStarts = events[stuckEnd..<swept].filter { $0.program == "stuck" && $0.started != nil }.count
            #expect(stuckStarts == 0)
        }
    }

    /// The binary disappears after start (a deploy removed it): with restart_delay 0 and
    /// max_restarts 0 every spawn fails; the engine must stay up and retry at a bounded rate.
    @Test func removedBinaryGivesABoundedRateOfSpawnFailures() async throws {
        let dir = TempDir()
        defer { dir.remove() }
        let script = dir.script("vanishing", "sleep 0.2; exit 1")
        let spec = program("vanishing", script, delay: .zero, factor: 1, maxRestarts: 0)
        try await withSupervisor([spec], dir: dir) { sup, sink in
            #expect(await sink.waitFor { $0.contains { $0.started != nil } })
            unlink(script)
            #expect(await sink.waitFor { $0.contains(where: \.isSpawnFailed) })
            let t0 = ContinuousClock.now
            let n0 = sink.events.filter(\.isSpawnFailed).count
            try await Task.sleep(for: .seconds(2))
            let elapsed = ContinuousClock.now - t0
            let n = sink.events.filter(\.isSpawnFailed).count - n0
            let bound = Int(elapsed / Engine.spawnFailureFloor) + 2
            #expect(n >= 2, "spawn retries stopped")
            #expect(n <= bound, "\(n) spawn failures in \(elapsed): more than one per \(Engine.spawnFailureFloor)")
            #expect(!sup.isFinished)
            #expect(sup.status().first?.state != nil)
        }
    }
}
