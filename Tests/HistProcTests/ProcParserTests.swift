import HistModel
@testable import HistProc
import Testing

@Suite("/proc parsers on fixture files")
struct ProcParserTests {
    @Test("comm with parentheses and spaces is taken up to the last ')'")
    func commWithParens() throws {
        let line = FakeProc.statLine(pid: 42, comm: "a) b (c", state: "R", ppid: 7, pgrp: 40, session: 30,
                                     utime: 11, stime: 22, cutime: 33, cstime: 44, threads: 5, startTicks: 123_456,
                                     vsize: 8_192_000, rssPages: 77)
        let s = try #require(ProcStat.parse(line))
        #expect(s.pid == 42)
        #expect(s.comm == "a) b (c")
        #expect(s.state == "R")
        #expect(s.ppid == 7)
        #expect(s.pgrp == 40)
        #expect(s.session == 30)
        #expect(s.utime == 11 && s.stime == 22 && s.cutime == 33 && s.cstime == 44)
        #expect(s.threads == 5)
        #expect(s.startTicks == 123_456)
        #expect(s.vsizeBytes == 8_192_000)
        #expect(s.rssPages == 77)
        #expect(s.identity == ProcessIdentity(pid: 42, startTicks: 123_456))
    }

    @Test("comm with spaces, a trailing ') ' and digits")
    func commVariants() throws {
        for comm in ["my prog", "x) 1 2 3 (", ")", "((", "kworker/0:1-events", ""] {
            let s = try #require(ProcStat.parse(FakeProc.statLine(pid: 9, comm: comm, ppid: 1, startTicks: 99)),
                                 "comm \(comm)")
            #expect(s.comm == comm)
            #expect(s.ppid == 1)
            #expect(s.startTicks == 99)
        }
    }

    @Test("extra trailing fields from newer kernels are ignored; the minimum (24 fields) parses")
    func fieldCounts() throws {
        let many = try #require(ProcStat.parse(FakeProc.statLine(pid: 5, comm: "x", ppid: 1, startTicks: 7, extraFields: 60)))
        #expect(many.startTicks == 7)
        let minimal = try #require(ProcStat.parse(FakeProc.statLine(pid: 5, comm: "x", ppid: 1, rssPages: 3, extraFields: 0)))
        #expect(minimal.rssPages == 3)
    }

    @Test("truncated, empty or garbled stat is nil, not a crash")
    func truncated() {
        let full = FakeProc.statLine(pid: 5, comm: "x y", ppid: 1, startTicks: 123_456, extraFields: 0)
        // Every prefix shorter than the complete 24th field must be rejected.
        let bytes = Array(full.utf8)
        for cut in 0..<(bytes.count - 1) {
            let prefix = String(decoding: bytes[0..<cut], as: UTF8.self)
            #expect(ProcStat.parse(prefix) == nil, "prefix of \(cut) bytes parsed")
        }
        #expect(ProcStat.parse("") == nil)
        #expect(ProcStat.parse("12 (no closing paren S 1 2 3") == nil)
        #expect(ProcStat.parse("abc (x) S 1") == nil)
        #expect(ProcStat.parse("12 (x) S a b c d e f g h i j k l m n o p q r s t u") == nil)
    }

    @Test("negative fields (tty_pgrp -1) and kernel-thread flags")
    func negativeAndFlags() throws {
        let s = try #require(ProcStat.parse(FakeProc.statLine(pid: 30, comm: "kworker/0:1", state: "I", ppid: 2, flags: 0x0420_8040)))
        #expect(s.isKernelThread)
        #expect(s.state == "I")
        let user = try #require(ProcStat.parse(FakeProc.statLine(pid: 31, comm: "bash", ppid: 1)))
        #expect(!user.isKernelThread)
    }

    @Test("statm and status parse; truncated versions are nil")
    func statmStatus() throws {
        var m = Array("2500 380 120 10 0 200 0\n".utf8)
        let statm = try #require(m.withUnsafeMutableBytes { ProcStatm.parse(UnsafeRawBufferPointer($0)) })
        #expect(statm.sizePages == 2500 && statm.residentPages == 380 && statm.sharedPages == 120)
        var cut = Array("2500 38".utf8)
        #expect(cut.withUnsafeMutableBytes { ProcStatm.parse(UnsafeRawBufferPointer($0)) } == nil)

        var st = Array("Name:\tbash\nUmask:\t0022\nState:\tS (sleeping)\nUid:\t1000\t1001\t1000\t1000\nGid:\t0\nThreads:\t7\nSigQ:\t0/1\n".utf8)
        let status = try #require(st.withUnsafeMutableBytes { ProcStatus.parse(UnsafeRawBufferPointer($0)) })
        #expect(status.uid == 1000 && status.euid == 1001 && status.threads == 7)
        var noThreads = Array("Name:\tbash\nUid:\t0\t0\t0\t0\n".utf8)
        #expect(noThreads.withUnsafeMutableBytes { ProcStatus.parse(UnsafeRawBufferPointer($0)) } == nil)
    }

    @Test("ProcFS on a fake tree: stat, statm, status, cmdline, children, boot time, vanished and missing files")
    func fakeTree() throws {
        let fake = FakeProc()
        fake.addProcess(pid: 100, comm: "a) b (c", ppid: 1, startTicks: 250, cmdline: "/usr/bin/python3 -u worker.py",
                        uid: 1000, children: [101, 102])
        fake.addProcess(pid: 101, comm: "child one", ppid: 100, startTicks: 260)
        fake.addProcess(pid: 102, comm: "child2", ppid: 100, startTicks: 270, cmdline: "")
        // 103: statm missing, stat truncated.
        TestProc.makeDir(fake.root + "/103")
        fake.write("103/stat", "103 (half) S 1 103 103 0 -1 0 0")
        // Not pids: ignored by allPids.
        TestProc.makeDir(fake.root + "/self")
        TestProc.makeDir(fake.root + "/sys")

        let proc = ProcFS(root: fake.root)
        #expect(Set(proc.allPids()) == [100, 101, 102, 103])
        let s = try #require(proc.stat(100))
        #expect(s.comm == "a) b (c")
        #expect(s.startTicks == 250)
        #expect(proc.statm(100)?.residentPages == 10)
        #expect(proc.status(100)?.uid == 1000)
        #expect(proc.cmdline(100) == "/usr/bin/python3 -u worker.py")
        #expect(proc.cmdline(102) == "")
        #expect(proc.children(of: 100, threads: 1).sorted() == [101, 102])
        #expect(Set(proc.descendants(of: 100)) == [101, 102])
        #expect(proc.fdCount(100) == 0)

        // Truncated stat and missing statm: nil, no crash.
        #expect(proc.stat(103) == nil)
        #expect(proc.statm(103) == nil)
        // A pid that does not exist (vanished): nil everywhere.
        #expect(proc.stat(999) == nil)
        #expect(proc.statm(999) == nil)
        #expect(proc.status(999) == nil)
        #expect(proc.cmdline(999) == nil)
        #expect(proc.fdCount(999) == nil)
        #expect(proc.children(of: 999, threads: 1).isEmpty)
        // Empty file (a process that exited between open and read): nil.
        TestProc.makeDir(fake.root + "/104")
        fake.write("104/stat", "")
        #expect(proc.stat(104) == nil)

        // Boot time from btime, and start ticks -> wall clock.
        #expect(proc.bootTime() == Timestamp(milliseconds: 1_700_000_000_000))
        let hz = UInt64(proc.ticksPerSecond)
        #expect(proc.wallClock(startTicks: 5 * hz) == Timestamp(milliseconds: 1_700_000_005_000))

        // The sweep counts the readable and the gone.
        let counts = proc.sweep(pids: [100, 101, 102, 103, 999], includeStatus: true)
        #expect(counts.read == 3)
        #expect(counts.gone == 2)
        #expect(counts.rssBytes == 30 * UInt64(proc.pageSize))
    }

    @Test("children fall back to a ppid scan when the kernel has no children files")
    func childrenFallback() {
        let fake = FakeProc()
        fake.addProcess(pid: 200, comm: "parent", ppid: 1)
        fake.addProcess(pid: 201, comm: "kid", ppid: 200)
        fake.addProcess(pid: 202, comm: "other", ppid: 1)
        TestProc.removeTree(fake.root + "/200/task")
        let proc = ProcFS(root: fake.root)
        #expect(proc.children(of: 200, threads: 1) == [201])
        #expect(proc.children(of: 200, threads: 0) == [201])
    }

    @Test("ProcFS on the real /proc reads this test process")
    func realSelf() throws {
        let proc = ProcFS()
        let me = getpid()
        let s = try #require(proc.stat(me))
        #expect(s.pid == me)
        #expect(s.startTicks > 0)
        #expect(s.threads >= 1)
        #expect((proc.statm(me)?.residentPages ?? 0) > 0)
        #expect(proc.status(me)?.uid == getuid())
        #expect((proc.fdCount(me) ?? 0) >= 3)
        #expect(!(proc.cmdline(me) ?? "").isEmpty)
        #expect(proc.allPids().contains(me))
        #expect(proc.identity(of: me)?.startTicks == histd_start_ticks(me))
        let boot = try #require(proc.bootTime())
        #expect(boot < Timestamp.now())
        // This process started before now and after boot.
        let started = proc.wallClock(startTicks: s.startTicks)
        #expect(started <= Timestamp.now().adding(.seconds(2)))
        #expect(started >= boot)
    }
}

import CShim
#if canImport(Glibc)
import Glibc
#endif

func histd_start_ticks(_ pid: Int32) -> UInt64 { histd_proc_start_ticks(pid) }
