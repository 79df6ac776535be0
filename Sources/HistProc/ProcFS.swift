#if canImport(Glibc)
import Glibc
#endif
import CShim
import HistModel
import HistSys

/// Reads `/proc` (or a fake tree under another root, for tests) with plain open/read/close into
/// buffers allocated once per reader.
///
/// Every per-process read returns nil when the process is gone (ENOENT, ESRCH, an empty read) or
/// when its file cannot be parsed (a truncated fixture): both are normal outcomes of racing the
/// kernel, never errors. Not thread-safe: use one `ProcFS` per thread or actor.
public final class ProcFS {
    /// The proc root, "/proc" unless a test gave a fixture tree.
    public let root: String
    /// sysconf(_SC_CLK_TCK), the unit of utime/stime/start ticks.
    public let ticksPerSecond: Int
    /// sysconf(_SC_PAGESIZE), the unit of rss in stat and statm.
    public let pageSize: Int

    private let paths: PathBuffer
    /// One buffer for every read; 64 KiB holds any stat/statm/status file and a long cmdline.
    private let buffer: UnsafeMutableRawBufferPointer
    private var cachedBootTime: Timestamp?
    private let cacheLimit: Int
    /// pid << 3 | file -> open fd (see `cachedRead`).
    private var cachedFDs: [Int64: Int32] = [:]
    /// True when `root` is a procfs mount (not a fixture tree), where stat(2) of /proc/PID/fd
    /// reports the fd count as its size.
    private let isProcfs: Bool
    /// True when `root` is the procfs of this process's own pid namespace (its `self` names our pid), so
    /// a pid read there is also the pid the kernel's CPU clocks take (`runStamp`).
    private let pidsAreOurs: Bool

    /// `cacheLimit`: how many fds (`stat`, `statm` and `children` files) to keep open for pread; 0 = open
    /// and close every time. The sampler uses a cache (about two fds per sampled process); one-off
    /// readers and the scanner need none.
    public init(root: String = "/proc", cacheLimit: Int = 0) {
        self.root = root
        self.cacheLimit = cacheLimit
        self.paths = PathBuffer(root: root)
        self.buffer = .allocate(byteCount: 64 * 1024, alignment: 8)
        let hz = histd_clock_ticks_per_second()
        self.ticksPerSecond = hz > 0 ? hz : 100
        let page = histd_page_size()
        self.pageSize = page > 0 ? page : 4096
        self.isProcfs = Sys.isProcfs(root)
        self.pidsAreOurs = isProcfs && Sys.readLink(root + "/self") == String(getpid())
    }

    deinit {
        for fd in cachedFDs.values { close(fd) }
        buffer.deallocate()
    }

    // MARK: per-process files

    /// `/proc/PID/stat`, or nil if the process is gone or the file is unparseable.
    ///
    /// With `cacheLimit > 0` the file stays open between calls and is re-read with pread(2),
    /// which saves the path lookup, open and close (about half the cost). A cached fd is bound to
    /// the process it was opened for, not to the pid: once that process is gone, pread fails with
    /// ESRCH, and the fd is replaced by a fresh open (which finds the pid's new owner, if any).
    public func stat(_ pid: Int32) -> ProcStat? {
        let n: Int
        if cacheLimit > 0 {
            n = cachedRead(pid, .stat)
        } else {
            n = readOnce(paths.path(pid, "/stat"))
        }
        guard n > 0 else { return nil }
        return ProcStat.parse(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
    }

    /// Closes cached fds of pids not in `pids` (call after each sampling sweep with the pids it
    /// visited, so the cache follows the live trees).
    public func retainCached(only pids: Set<Int32>) {
        for (key, fd) in cachedFDs where !pids.contains(Int32(truncatingIfNeeded: key >> 3)) {
            close(fd)
            cachedFDs[key] = nil
        }
    }

    /// Like `retainCached(only:)`, but of the pids in `pids` and not in `fullFiles` only the
    /// `schedstat` fd stays open: a process that did not run between sweeps needs nothing else
    /// (TreeSampler), and every fd histd keeps is copied by each spawn (vfork duplicates the table).
    public func retainCached(only pids: Set<Int32>, fullFiles: Set<Int32>) {
        for (key, fd) in cachedFDs {
            let pid = Int32(truncatingIfNeeded: key >> 3)
            let keep = key & 7 == CachedFile.schedstat.rawValue ? pids.contains(pid) : fullFiles.contains(pid)
            if !keep {
                close(fd)
                cachedFDs[key] = nil
            }
        }
    }

    /// Number of fds currently cached.
    public var cachedFDCount: Int { cachedFDs.count }

    /// Whether any fd of `pid` is cached (for tests of the cache's upkeep).
    public func hasCachedFD(for pid: Int32) -> Bool {
        cachedFDs.keys.contains { Int32(truncatingIfNeeded: $0 >> 3) == pid }
    }

    /// Which file a cached fd reads.
    private enum CachedFile: Int64 { case stat = 0, children = 1, statm = 2, fdDirectory = 3, schedstat = 4 }

    /// Whether the last `cachedRead` opened the file afresh (no cached fd, or the cached one's process
    /// was gone), so that a caller can tell a read of the same process from one of whoever has the pid now.
    private var lastReadOpened = false

    /// Reads a cached file of `pid` from offset 0 with pread; opens (and caches, within the limit)
    /// on a miss or when the cached fd's process is gone. Returns bytes or -errno.
    private func cachedRead(_ pid: Int32, _ file: CachedFile) -> Int {
        let key = Int64(pid) << 3 | file.rawValue
        let whole = file == .children  // children can exceed one page: loop until EOF
        lastReadOpened = false
        if let fd = cachedFDs[key] {
            let n = whole ? Sys.preadAll(fd, into: buffer) : preadOnce(fd)
            if n > 0 || (n == 0 && whole) { return n }
            // Gone (ESRCH) or empty: drop it and try the pid afresh below.
            close(fd)
            cachedFDs[key] = nil
        }
        let path = switch file {
        case .stat: paths.path(pid, "/stat")
        case .statm: paths.path(pid, "/statm")
        case .children: paths.taskPath(pid, pid, "/children")
        case .fdDirectory: paths.path(pid, "/fd")  // read through cachedFDDirectorySize, never here
        case .schedstat: paths.path(pid, "/schedstat")
        }
        lastReadOpened = true
        let fd = Sys.openRead(path)
        if fd < 0 { return -Int(errno) }
        let n = whole ? Sys.preadAll(fd, into: buffer) : preadOnce(fd)
        if n >= 0 && cachedFDs.count < cacheLimit {
            cachedFDs[key] = fd
        } else {
            close(fd)
        }
        return n
    }

    /// st_size of `/proc/PID/fd` through a cached O_PATH fd; nil when the process is gone (a stale
    /// fd of a dead process fails fstat and is dropped, so a reused pid is read afresh).
    private func cachedFDDirectorySize(_ pid: Int32) -> Int64? {
        let key = Int64(pid) << 3 | CachedFile.fdDirectory.rawValue
        var st = Glibc.stat()
        if let fd = cachedFDs[key] {
            if fstat(fd, &st) == 0 { return Int64(st.st_size) }
            close(fd)
            cachedFDs[key] = nil
        }
        let opened = open(paths.path(pid, "/fd"), Sys.openPath | O_DIRECTORY | O_CLOEXEC)
        guard opened >= 0 else { return nil }
        guard fstat(opened, &st) == 0 else { close(opened); return nil }
        if cachedFDs.count < cacheLimit { cachedFDs[key] = opened } else { close(opened) }
        return Int64(st.st_size)
    }

    private func preadOnce(_ fd: Int32) -> Int {
        Sys.pread(fd, into: buffer)
    }

    /// The scheduler counters of `pid`'s main thread from `/proc/PID/schedstat`: nanoseconds on a CPU and
    /// the number of times it was scheduled in. nil when the process is gone or the kernel has no
    /// schedstat (CONFIG_SCHED_INFO off, or a fixture tree without the file).
    ///
    /// With `cacheLimit > 0` it is read through a cached fd like `stat`; `sameProcess` is true when
    /// that fd was already open, i.e. the counters are of the very process an earlier call read (a
    /// cached /proc fd never follows a reused pid). It is the sampler's cheap test for "has this
    /// process run since the last sweep": generating `schedstat` costs the kernel a fraction of `stat`.
    public func schedstat(_ pid: Int32) -> (counters: SchedCounters, sameProcess: Bool)? {
        let n: Int
        if cacheLimit > 0 {
            n = cachedRead(pid, .schedstat)
        } else {
            lastReadOpened = true
            n = readOnce(paths.path(pid, "/schedstat"))
        }
        guard n > 0, let counters = SchedCounters.parse(UnsafeRawBufferPointer(rebasing: buffer[0..<n])) else { return nil }
        return (counters, !lastReadOpened)
    }

    /// What tells the sampler whether `pid` has run since an earlier call: equal stamps mean that no
    /// thread of the process was on a CPU in between, so nothing it alone can change has changed.
    ///
    /// On the /proc of our own pid namespace it is the kernel's process CPU clock (clock_gettime of
    /// `MAKE_PROCESS_CPUCLOCK(pid, CPUCLOCK_SCHED)`): the nanoseconds every thread of the process, living
    /// or exited, has run. One syscall with no file behind it: no fd kept per process (each spawn copies
    /// histd's fd table), no text formatted and parsed, and about half the CPU of a pread of `schedstat`
    /// through a kept fd (1.0 against 2.1 us per process in a cold sweep of 500 idle processes,
    /// BENCHMARKS.md); and it covers every thread, where `schedstat` covers the main thread only, so
    /// multi-threaded processes can be answered from a memo too. A clock is found by pid, not bound to
    /// the process like a kept fd: `boundToProcess` is false, and the sampler checks the start time when
    /// it next reads stat (TreeSampler.visit). Elsewhere (a fixture tree, another namespace's /proc, a
    /// kernel without the clock) it is `schedstat` read through a kept fd, as `schedstat(_:)` says.
    public func runStamp(_ pid: Int32) -> RunStamp? {
        if pidsAreOurs {
            var ts = timespec()
            // CPUCLOCK_SCHED (2), a process clock (CPUCLOCK_PERTHREAD_MASK, 4, clear): linux/posix-timers.h.
            let clock = clockid_t(truncatingIfNeeded: (~pid) << 3 | 2)
            if clock_gettime(clock, &ts) == 0 {
                return RunStamp(counters: SchedCounters(runNanoseconds: UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec), slices: 0),
                                coversAllThreads: true, boundToProcess: false)
            }
            // Gone (EINVAL), or a kernel without the clock: schedstat answers both.
        }
        guard let sched = schedstat(pid) else { return nil }
        return RunStamp(counters: sched.counters, coversAllThreads: false, boundToProcess: sched.sameProcess)
    }

    /// `/proc/PID/statm`, or nil if gone/missing/unparseable.
    public func statm(_ pid: Int32) -> ProcStatm? {
        let n = cacheLimit > 0 ? cachedRead(pid, .statm) : readOnce(paths.path(pid, "/statm"))
        guard n > 0 else { return nil }
        return ProcStatm.parse(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
    }

    /// The Uid and Threads lines of `/proc/PID/status`, or nil.
    public func status(_ pid: Int32) -> ProcStatus? {
        let n = readOnce(paths.path(pid, "/status"))
        guard n > 0 else { return nil }
        return ProcStatus.parse(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
    }

    /// `/proc/PID/cmdline` with its NUL separators turned into spaces; "" for kernel threads and
    /// zombies (their cmdline is empty); nil if the process is gone. At most 64 KiB.
    public func cmdline(_ pid: Int32) -> String? {
        let n = Sys.readFile(paths.path(pid, "/cmdline"), into: buffer)
        if n < 0 { return nil }
        var end = n
        while end > 0 && (buffer[end - 1] == 0 || buffer[end - 1] == 32) { end -= 1 }
        for i in 0..<end where buffer[i] == 0 { buffer[i] = 32 }
        return String(decoding: UnsafeRawBufferPointer(rebasing: buffer[0..<end]), as: UTF8.self)
    }

    /// The value of `name` in `/proc/PID/environ` (the environment the process was exec'd with, which
    /// its descendants inherit unless they replace it), or nil if unset, gone or not permitted. At
    /// most the first 64 KiB are read.
    public func environValue(_ pid: Int32, _ name: String) -> String? {
        let n = Sys.readFile(paths.path(pid, "/environ"), into: buffer)
        guard n > 0 else { return nil }
        let key = Array(name.utf8) + [UInt8(ascii: "=")]
        var start = 0
        while start < n {
            var end = start
            while end < n && buffer[end] != 0 { end += 1 }
            if end - start >= key.count {
                var match = true
                for i in 0..<key.count where buffer[start + i] != key[i] { match = false; break }
                if match {
                    return String(decoding: UnsafeRawBufferPointer(rebasing: buffer[(start + key.count)..<end]), as: UTF8.self)
                }
            }
            start = end + 1
        }
        return nil
    }

    /// Number of open fds (entries of `/proc/PID/fd`), or nil if gone or not permitted.
    public func fdCount(_ pid: Int32) -> Int32? {
        // Since Linux 6.2, stat(2) on /proc/PID/fd reports the number of open fds as its size:
        // one syscall instead of a directory walk. With a cache, fstat(2) on a kept O_PATH fd of
        // the directory also saves the path lookup, which was a fifth of the sampler's cost.
        if isProcfs && cacheLimit > 0, let size = cachedFDDirectorySize(pid), size > 0 {
            return Int32(truncatingIfNeeded: size)
        }
        let dir = paths.path(pid, "/fd")
        guard let size = Sys.fileSize(dir) else { return nil }
        if isProcfs && size > 0 { return Int32(truncatingIfNeeded: size) }
        var count: Int32 = 0
        let ok = Sys.forEachEntry(dir) { _ in count += 1 }
        return ok ? count : nil
    }

    /// Direct children of `pid`, from `/proc/PID/task/TID/children` of each thread (a child
    /// belongs to the thread that forked it). Pass the thread count from `stat` to skip the task
    /// directory listing for single-threaded processes. Falls back to a ppid scan of all of
    /// /proc when the kernel lacks the children files (CONFIG_PROC_CHILDREN).
    public func children(of pid: Int32, threads: Int32 = 0) -> [Int32] {
        var out: [Int32] = []
        if threads == 1 {
            let n = cacheLimit > 0 ? cachedRead(pid, .children)
                                   : Sys.readFile(paths.taskPath(pid, pid, "/children"), into: buffer)
            if n >= 0 {
                appendPids(UnsafeRawBufferPointer(rebasing: buffer[0..<n]), to: &out)
                return out
            }
            if -n != Int(ENOENT) { return out }  // gone
        } else {
            var tids: [Int32] = []
            let listed = Sys.forEachEntry(paths.path(pid, "/task")) { name in
                if let tid = Sys.pidFromName(name) { tids.append(tid) }
            }
            var anyFile = false
            for tid in tids {
                let n = Sys.readFile(paths.taskPath(pid, tid, "/children"), into: buffer)
                if n >= 0 {
                    anyFile = true
                    appendPids(UnsafeRawBufferPointer(rebasing: buffer[0..<n]), to: &out)
                }
            }
            if anyFile || (listed && tids.isEmpty) { return out }
        }
        // No children files (or the process vanished): scan parents instead.
        guard stat(pid) != nil else { return [] }
        return allPids().filter { stat($0)?.ppid == pid }
    }

    /// Every live descendant of `pid` (not `pid` itself), breadth first.
    public func descendants(of pid: Int32) -> [Int32] {
        var out: [Int32] = []
        var seen: Set<Int32> = [pid]
        var queue = [pid]
        var head = 0
        while head < queue.count {
            let p = queue[head]
            head += 1
            for child in children(of: p, threads: stat(p)?.threads ?? 0) where seen.insert(child).inserted {
                out.append(child)
                queue.append(child)
            }
        }
        return out
    }

    /// The identity (pid, start ticks) of a live process, or nil.
    public func identity(of pid: Int32) -> ProcessIdentity? { stat(pid)?.identity }

    /// Is this exact process (not just this pid) still alive? False once its pid was reused.
    public func isAlive(_ identity: ProcessIdentity) -> Bool { stat(identity.pid)?.startTicks == identity.startTicks }

    // MARK: system-wide

    /// Every pid in /proc (thread group leaders only), in directory order.
    public func allPids() -> [Int32] {
        var out: [Int32] = []
        out.reserveCapacity(1024)
        Sys.forEachEntry(paths.rootPath("")) { name in
            if let pid = Sys.pidFromName(name) { out.append(pid) }
        }
        return out
    }

    /// Boot time ("btime" of `/proc/stat`, whole seconds), cached after the first read.
    public func bootTime() -> Timestamp? {
        if let cachedBootTime { return cachedBootTime }
        // Not readOnce: /proc/stat exceeds one page on machines with many CPUs (the intr line).
        let n = Sys.readFile(paths.rootPath("/stat"), into: buffer)
        guard n > 0 else { return nil }
        let text = String(decoding: UnsafeRawBufferPointer(rebasing: buffer[0..<n]), as: UTF8.self)
        for line in text.split(separator: "\n") where line.hasPrefix("btime ") {
            if let seconds = Int64(line.dropFirst(6).trimmingCharacters()) {
                cachedBootTime = Timestamp(milliseconds: seconds * 1000)
            }
        }
        return cachedBootTime
    }

    /// Wall-clock start of a process from its start ticks: boot time + ticks / HZ. Accurate to
    /// the second (btime's resolution); the Unix epoch if boot time is unreadable.
    public func wallClock(startTicks: UInt64) -> Timestamp {
        let boot = bootTime()?.milliseconds ?? 0
        let ms = Int64(startTicks) * 1000 / Int64(ticksPerSecond)
        return Timestamp(milliseconds: boot + ms)
    }

    /// Reads stat, statm and (optionally) status of each pid, for the `sampler` benchmark: the cost
    /// of one sampling sweep without tree walking. Vanished pids are counted, not errors.
    public func sweep(pids: [Int32], includeStatus: Bool = false) -> SweepCounts {
        var counts = SweepCounts()
        for pid in pids {
            guard let s = stat(pid), let m = statm(pid) else { counts.gone += 1; continue }
            if includeStatus, status(pid) == nil { counts.gone += 1; continue }
            counts.read += 1
            counts.rssBytes &+= m.residentPages &* UInt64(pageSize)
            counts.threads += Int(s.threads)
            counts.utimeTicks &+= s.utime
        }
        return counts
    }

    // MARK: helpers

    /// One read(2) at offset 0: /proc seq files hand over their whole content in the first read
    /// when the buffer is big enough, which saves the second read that would only see EOF.
    /// Returns the byte count or -errno.
    private func readOnce(_ path: UnsafePointer<CChar>) -> Int {
        let fd = Sys.openRead(path)
        if fd < 0 { return -Int(errno) }
        defer { close(fd) }
        return Sys.read(fd, into: buffer)
    }

    private func appendPids(_ bytes: UnsafeRawBufferPointer, to out: inout [Int32]) {
        var value: Int32 = 0
        var digits = 0
        for b in bytes {
            if b >= 48 && b <= 57 {
                value = value &* 10 &+ Int32(b - 48)
                digits += 1
            } else {
                if digits > 0 { out.append(value) }
                value = 0
                digits = 0
            }
        }
        if digits > 0 { out.append(value) }
    }
}

/// The first and third fields of `/proc/PID/schedstat`: time on a CPU (ns) and timeslices run.
/// Both only grow while the thread runs, so equal counters mean it has not run in between.
public struct SchedCounters: Hashable, Sendable {
    public var runNanoseconds: UInt64
    public var slices: UInt64

    public init(runNanoseconds: UInt64, slices: UInt64) {
        self.runNanoseconds = runNanoseconds
        self.slices = slices
    }

    /// "RUN WAIT SLICES\n"; nil unless all three numbers are there.
    public static func parse(_ bytes: UnsafeRawBufferPointer) -> SchedCounters? {
        var fields: (UInt64, UInt64, UInt64) = (0, 0, 0)
        var index = 0, digits = 0
        var value: UInt64 = 0
        for b in bytes {
            if b >= 48 && b <= 57 {
                value = value &* 10 &+ UInt64(b - 48)
                digits += 1
            } else if digits > 0 {
                switch index { case 0: fields.0 = value; case 1: fields.1 = value; default: fields.2 = value }
                index += 1
                value = 0
                digits = 0
                if index == 3 { break }
            }
        }
        if digits > 0 && index < 3 {
            switch index { case 0: fields.0 = value; case 1: fields.1 = value; default: fields.2 = value }
            index += 1
        }
        guard index == 3 else { return nil }
        return SchedCounters(runNanoseconds: fields.0, slices: fields.2)
    }
}

/// `ProcFS.runStamp`: counters that only grow while the process runs, and what they cover.
public struct RunStamp: Equatable, Sendable {
    public var counters: SchedCounters
    /// Every thread of the process (its CPU clock), not the main thread only (`schedstat`).
    public var coversAllThreads: Bool
    /// Read through an fd kept open since an earlier read, so of that very process (a kept /proc fd
    /// never follows a reused pid). False for a clock, which is looked up by pid each time.
    public var boundToProcess: Bool
}

/// What `ProcFS.sweep(pids:)` saw.
public struct SweepCounts: Hashable, Sendable {
    /// Processes read completely.
    public var read = 0
    /// Processes that vanished (or could not be parsed) during the sweep.
    public var gone = 0
    public var rssBytes: UInt64 = 0
    public var threads = 0
    public var utimeTicks: UInt64 = 0
    public init() {}
}

extension Substring {
    func trimmingCharacters() -> Substring {
        var s = self
        while let f = s.first, f == " " || f == "\t" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\t" || l == "\r" { s.removeLast() }
        return s
    }
}
