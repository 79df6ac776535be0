#if canImport(Glibc)
import Glibc
#endif
import Foundation
import HistModel
import HistProc
import Testing
import TestThreads
import HistTestSupport

/// TreeSampler answers for a single-threaded process whose schedstat counters did not move from what
/// it read last time, and re-reads rss at least every `refreshEvery` sweeps. A fixture tree shows which
/// files were read: a rewritten `stat` is seen only when the sampler reads it.
@Suite("TreeSampler skips processes that have not run", .serialized, .blocking)
struct TreeSamplerQuietTests {
    final class Fixture {
        let root: String
        init() throws {
            root = FileManager.default.temporaryDirectory.appendingPathComponent("quiet-\(getpid())-\(UInt32.random(in: 0...UInt32.max))").path
            try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        }
        deinit { try? FileManager.default.removeItem(atPath: root) }

        /// Writes (in place, so a kept fd sees the new bytes) the files of one process.
        func process(_ pid: Int32, ppid: Int32 = 1, utime: Int = 10, rssPages: Int = 100, threads: Int = 1,
                     start: Int = 5000, children: [Int32] = [], schedstat: String? = "1000 0 5\n") throws {
            let dir = "\(root)/\(pid)"
            try FileManager.default.createDirectory(atPath: "\(dir)/task/\(pid)", withIntermediateDirectories: true)
            try FileManager.default.createDirectory(atPath: "\(dir)/fd", withIntermediateDirectories: true)
            for fd in 0..<3 { FileManager.default.createFile(atPath: "\(dir)/fd/\(fd)", contents: nil) }
            let stat = "\(pid) (quiet) S \(ppid) \(pid) \(pid) 0 -1 4194560 0 0 0 0 \(utime) 3 0 0 20 0 \(threads) 0 \(start) 8192000 \(rssPages) 0\n"
            try write(stat, to: "\(dir)/stat")
            try write(children.map(String.init).joined(separator: " "), to: "\(dir)/task/\(pid)/children")
            if let schedstat { try write(schedstat, to: "\(dir)/schedstat") }
        }

        func write(_ text: String, to path: String) throws {
            let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
            guard fd >= 0 else { throw POSIXError(.EIO) }
            defer { close(fd) }
            _ = text.withCString { Glibc.write(fd, $0, strlen($0)) }
        }
    }

    static let id = ProcessIdentity(pid: 4242, startTicks: 5000)

    @Test("unchanged schedstat: stat is not read again; moved schedstat: it is")
    func quietThenBusy() throws {
        let f = try Fixture()
        try f.process(4242, utime: 10)
        let sampler = TreeSampler(procfs: ProcFS(root: f.root, cacheLimit: 64))
        #expect(sampler.sample(instance: 1, identity: Self.id)?.utimeTicks == 10)
        // stat changes but the process "did not run": the sample is the last one read.
        try f.process(4242, utime: 99)
        let carried = try #require(sampler.sample(instance: 1, identity: Self.id))
        #expect(carried.utimeTicks == 10)
        #expect(carried.fds == 3)
        #expect(carried.processes == 1)
        // It ran: read in full.
        try f.process(4242, utime: 99, schedstat: "2000 0 6\n")
        #expect(sampler.sample(instance: 1, identity: Self.id)?.utimeTicks == 99)
    }

    @Test("rss of a quiet process is re-read within refreshEvery sweeps")
    func rssRefresh() throws {
        let f = try Fixture()
        try f.process(4242, rssPages: 100)
        let procfs = ProcFS(root: f.root, cacheLimit: 64)
        let sampler = TreeSampler(procfs: procfs)
        let page = UInt64(procfs.pageSize)
        #expect(sampler.sample(instance: 1, identity: Self.id)?.rssBytes == 100 * page)
        try f.process(4242, rssPages: 40)
        var seenAt: Int?
        for sweep in 1...TreeSampler.refreshEvery {
            if sampler.sample(instance: 1, identity: Self.id)?.rssBytes == 40 * page { seenAt = sweep; break }
        }
        let at = try #require(seenAt)
        #expect(at == TreeSampler.refreshEvery)
    }

    @Test("without schedstat, or with threads, every sweep reads stat")
    func alwaysFull() throws {
        let f = try Fixture()
        try f.process(4242, utime: 10, schedstat: nil)
        try f.process(4343, utime: 10, threads: 2, start: 6000)
        let sampler = TreeSampler(procfs: ProcFS(root: f.root, cacheLimit: 64))
        let roots: [(instance: InstanceID, identity: ProcessIdentity)] = [(1, Self.id), (2, ProcessIdentity(pid: 4343, startTicks: 6000))]
        #expect(sampler.sample(roots).map(\.utimeTicks) == [10, 10])
        try f.process(4242, utime: 20, schedstat: nil)
        try f.process(4343, utime: 30, threads: 2, start: 6000)
        #expect(sampler.sample(roots).map(\.utimeTicks) == [20, 30])
    }

    @Test("a quiet parent's children are carried, and each child is still checked")
    func quietTree() throws {
        let f = try Fixture()
        try f.process(4242, utime: 10, children: [4243])
        try f.process(4243, ppid: 4242, utime: 7, start: 5001)
        let sampler = TreeSampler(procfs: ProcFS(root: f.root, cacheLimit: 64))
        let both = try #require(sampler.sample(instance: 1, identity: Self.id))
        #expect(both.processes == 2)
        #expect(both.utimeTicks == 17)
        // The child ran (its schedstat moved), the parent did not.
        try f.process(4243, ppid: 4242, utime: 9, start: 5001, schedstat: "5000 0 9\n")
        let after = try #require(sampler.sample(instance: 1, identity: Self.id))
        #expect(after.processes == 2)
        #expect(after.utimeTicks == 19)
    }

    static var hasSchedstat: Bool { access("/proc/self/schedstat", R_OK) == 0 }

    @Test("real processes: an idle one keeps no fd, and memo answers equal fresh reads",
          .enabled(if: hasSchedstat))
    func realIdle() throws {
        // The exec'd sleep is the parent; its child sleep is killed and stays a zombie (SIGCHLD is
        // ignored by default, so the parent never runs): a change the parent's counters do not show.
        let shell = try TestProc.spawn(["/bin/sh", "-c", "sleep 300 & exec sleep 300"])
        defer { TestProc.killAndReap(shell) }
        let probe = ProcFS()
        #expect(TestProc.eventually { probe.stat(shell)?.comm == "sleep" && probe.descendants(of: shell).count == 1 })
        let kid = try #require(probe.descendants(of: shell).first)
        let pinnedKid = PinnedProcess(kid, includingZombie: true)
        defer { pinnedKid?.kill() }
        let identity = try #require(probe.identity(of: shell))
        let warm = TreeSampler(procfs: ProcFS(cacheLimit: 64))
        _ = warm.sample(instance: 1, identity: identity)
        _ = warm.sample(instance: 1, identity: identity)
        // Parent and child idle: their CPU clocks say so, and neither keeps an fd.
        #expect(warm.procfs.cachedFDCount == 0)
        kill(kid, SIGKILL)
        #expect(TestProc.eventually { probe.stat(kid)?.stateByte == UInt8(ascii: "Z") })
        let fromMemo = try #require(warm.sample(instance: 1, identity: identity))
        let fresh = try #require(TreeSampler(procfs: ProcFS(cacheLimit: 64)).sample(instance: 1, identity: identity))
        #expect(fromMemo.processes == fresh.processes)
        #expect(fromMemo.threads == fresh.threads)
        #expect(fromMemo.utimeTicks + fromMemo.stimeTicks == fresh.utimeTicks + fresh.stimeTicks)
        #expect(fromMemo.fds == fresh.fds)
        #expect(fromMemo.state == fresh.state)
    }
}

/// On the real /proc the run stamp is the process's CPU clock, which covers every thread.
@Suite("TreeSampler with CPU-clock run stamps", .serialized, .blocking)
struct TreeSamplerClockTests {
    /// A python with `threads` extra threads, all asleep, or (`spin`) one of them spinning.
    static func python(threads: Int, spin: Bool) throws -> pid_t {
        let body = spin ? "while True: pass" : "time.sleep(300)"
        let script = """
            import threading, time
            def work():
                \(body)
            for _ in range(\(threads)): threading.Thread(target=work, daemon=True).start()
            time.sleep(300)
            """
        return try TestProc.spawn(["/usr/bin/python3", "-c", script])
    }

    static func threads(_ pid: pid_t) -> Int32? { ProcFS().stat(pid)?.threads }

    @Test("a stamp is the whole process's CPU time: it grows while any thread runs, and is gone with the process")
    func stampCoversEveryThread() throws {
        let busy = try Self.python(threads: 2, spin: true)
        var reaped = false
        // Not again once reaped: the pid may belong to someone else by then.
        defer { if !reaped { TestProc.killAndReap(busy) } }
        #expect(TestProc.eventually { Self.threads(busy) == 3 })
        let procfs = ProcFS()
        let first = try #require(procfs.runStamp(busy))
        #expect(first.coversAllThreads)
        #expect(!first.boundToProcess)
        usleep(200_000)
        let later = try #require(procfs.runStamp(busy))
        // The spinning thread is not the main one: a main-thread counter would not move.
        #expect(later.counters.runNanoseconds > first.counters.runNanoseconds + 50_000_000)
        TestProc.killAndReap(busy)
        reaped = true
        #expect(procfs.runStamp(busy) == nil)
    }

    @Test("an idle multi-threaded process is answered from its memo, one that runs is read in full")
    func multiThreaded() throws {
        let idle = try Self.python(threads: 3, spin: false)
        defer { TestProc.killAndReap(idle) }
        let busy = try Self.python(threads: 1, spin: true)
        defer { TestProc.killAndReap(busy) }
        #expect(TestProc.eventually { Self.threads(idle) == 4 && Self.threads(busy) == 2 })
        let probe = ProcFS()
        let idleID = try #require(probe.identity(of: idle)), busyID = try #require(probe.identity(of: busy))
        let sampler = TreeSampler(procfs: ProcFS(cacheLimit: 64))
        _ = sampler.sample([(instance: 1, identity: idleID)])
        usleep(100_000)
        let memo = try #require(sampler.sample([(instance: 1, identity: idleID)]).first)
        // Answered from the memo: a full read would have kept its stat and children fds.
        #expect(sampler.procfs.cachedFDCount == 0)
        let fresh = try #require(TreeSampler(procfs: ProcFS(cacheLimit: 64)).sample(instance: 1, identity: idleID))
        #expect(memo.threads == 4 && fresh.threads == 4)
        #expect(memo.utimeTicks + memo.stimeTicks == fresh.utimeTicks + fresh.stimeTicks)
        #expect(memo.fds == fresh.fds)
        #expect(memo.state == fresh.state)
        // The spinning one moves every sweep, so it is read in full (its fds stay cached) and its
        // CPU time keeps growing.
        let a = try #require(sampler.sample([(instance: 2, identity: busyID)]).first)
        usleep(300_000)
        let b = try #require(sampler.sample([(instance: 2, identity: busyID)]).first)
        #expect(sampler.procfs.hasCachedFD(for: busy))
        #expect(b.utimeTicks + b.stimeTicks > a.utimeTicks + a.stimeTicks)
    }
}

/// The scanner's reader keeps stat fds (histd gives it a cache): those of exited processes are closed
/// at the end of the scan that no longer lists them.
@Suite("SystemScanner with an fd cache", .serialized, .blocking)
struct ScannerCacheTests {
    @Test("a scan keeps fds only for processes it listed")
    func followsLiveProcesses() throws {
        let procfs = ProcFS(cacheLimit: 8192)
        let scanner = SystemScanner(procfs: procfs)
        let child = try TestProc.spawn(["/bin/sleep", "30"])
        defer { TestProc.killAndReap(child) }
        _ = scanner.scan()
        #expect(procfs.hasCachedFD(for: child))
        #expect(procfs.hasCachedFD(for: getpid()))
        TestProc.killAndReap(child)
        _ = scanner.scan()
        #expect(!procfs.hasCachedFD(for: child))
        #expect(procfs.hasCachedFD(for: getpid()))
    }
}
