import HistModel

/// The fields of `/proc/PID/stat` histd uses (proc(5) numbering in the comments).
public struct ProcStat: Hashable, Sendable {
    /// (1) pid.
    public var pid: Int32
    /// (2) comm, without the parentheses. May contain spaces and parentheses (`a) b (c`).
    public var comm: String
    /// (3) state as an ASCII byte: R S D Z T t X I ...
    public var stateByte: UInt8
    /// (4) parent pid.
    public var ppid: Int32
    /// (5) process group id.
    public var pgrp: Int32
    /// (6) session id.
    public var session: Int32
    /// (9) kernel flags (PF_*).
    public var flags: UInt32
    /// (14) (15) user and system time, clock ticks.
    public var utime: UInt64
    public var stime: UInt64
    /// (16) (17) user and system time of reaped children, clock ticks.
    public var cutime: UInt64
    public var cstime: UInt64
    /// (20) number of threads.
    public var threads: Int32
    /// (22) start time, clock ticks since boot.
    public var startTicks: UInt64
    /// (23) virtual memory size, bytes.
    public var vsizeBytes: UInt64
    /// (24) resident set size, pages.
    public var rssPages: UInt64

    /// The state letter ("R", "S", "Z", ...).
    public var state: Character { Character(Unicode.Scalar(stateByte)) }
    /// (pid, start ticks): what identifies this process across pid reuse.
    public var identity: ProcessIdentity { ProcessIdentity(pid: pid, startTicks: startTicks) }
    /// A kernel thread (PF_KTHREAD, or a child of kthreadd, or kthreadd itself).
    public var isKernelThread: Bool { flags & 0x0020_0000 != 0 || ppid == 2 || pid == 2 }
    /// A session leader (pid == sid): daemons that called setsid, login shells, histd's programs.
    public var isSessionLeader: Bool { pid == session }

    public init(pid: Int32, comm: String, stateByte: UInt8, ppid: Int32, pgrp: Int32, session: Int32, flags: UInt32 = 0,
                utime: UInt64 = 0, stime: UInt64 = 0, cutime: UInt64 = 0, cstime: UInt64 = 0, threads: Int32 = 1,
                startTicks: UInt64 = 0, vsizeBytes: UInt64 = 0, rssPages: UInt64 = 0) {
        self.pid = pid
        self.comm = comm
        self.stateByte = stateByte
        self.ppid = ppid
        self.pgrp = pgrp
        self.session = session
        self.flags = flags
        self.utime = utime
        self.stime = stime
        self.cutime = cutime
        self.cstime = cstime
        self.threads = threads
        self.startTicks = startTicks
        self.vsizeBytes = vsizeBytes
        self.rssPages = rssPages
    }

    /// Parses the bytes of a stat file. Returns nil for anything unparseable (truncated, empty,
    /// no closing parenthesis): a caller treats that like a vanished process, never crashes.
    ///
    /// `comm` is whatever lies between the first "(" and the **last** ")", because a program can
    /// name itself `a) b (c`; every field after that is a number (or the state letter). Fields
    /// past (24) are ignored, so newer kernels that append fields parse the same.
    public static func parse(_ bytes: UnsafeRawBufferPointer) -> ProcStat? {
        let n = bytes.count
        guard n > 4 else { return nil }
        var close = n - 1
        while close >= 0 && bytes[close] != 41 /* ) */ { close -= 1 }
        guard close > 0 else { return nil }
        var open = 0
        while open < close && bytes[open] != 40 /* ( */ { open += 1 }
        guard open < close, open >= 2 else { return nil }

        // (1) pid: the digits before " (".
        var pid: Int64 = 0
        var i = 0
        while i < open - 1 {
            let c = bytes[i]
            guard c >= 48 && c <= 57 else { return nil }
            pid = pid * 10 + Int64(c - 48)
            i += 1
        }
        guard i > 0, pid <= Int64(Int32.max) else { return nil }

        // (3) state: ") S ".
        var p = close + 1
        guard p + 2 < n, bytes[p] == 32 else { return nil }
        let state = bytes[p + 1]
        p += 2

        var result = ProcStat(pid: Int32(pid), comm: "", stateByte: state, ppid: 0, pgrp: 0, session: 0)
        var field = 4
        // Each remaining field: a space, then an optionally negative decimal number.
        while field <= 24 {
            guard p < n, bytes[p] == 32 else { return nil }
            p += 1
            var negative = false
            if p < n && bytes[p] == 45 /* - */ { negative = true; p += 1 }
            var value: UInt64 = 0
            var digits = 0
            while p < n {
                let c = bytes[p]
                guard c >= 48 && c <= 57 else { break }
                value = value &* 10 &+ UInt64(c - 48)
                digits += 1
                p += 1
            }
            guard digits > 0 else { return nil }
            // The last field we need must be complete: followed by a separator, not by the end
            // of a truncated file.
            if field == 24 { guard p < n, bytes[p] == 32 || bytes[p] == 10 else { return nil } }
            let signed = negative ? -Int64(truncatingIfNeeded: value) : Int64(truncatingIfNeeded: value)
            let clamped = UInt64(max(signed, 0))
            switch field {
            case 4: result.ppid = Int32(truncatingIfNeeded: signed)
            case 5: result.pgrp = Int32(truncatingIfNeeded: signed)
            case 6: result.session = Int32(truncatingIfNeeded: signed)
            case 9: result.flags = UInt32(truncatingIfNeeded: value)
            case 14: result.utime = clamped
            case 15: result.stime = clamped
            case 16: result.cutime = clamped
            case 17: result.cstime = clamped
            case 20: result.threads = Int32(truncatingIfNeeded: signed)
            case 22: result.startTicks = clamped
            case 23: result.vsizeBytes = clamped
            case 24: result.rssPages = clamped
            default: break
            }
            field += 1
        }
        // Only now build the String (short comms are stored inline, no heap allocation).
        result.comm = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[(open + 1)..<close]), as: UTF8.self)
        return result
    }

    /// Convenience for tests and fixtures.
    public static func parse(_ text: String) -> ProcStat? {
        var copy = Array(text.utf8)
        return copy.withUnsafeMutableBytes { parse(UnsafeRawBufferPointer($0)) }
    }
}
