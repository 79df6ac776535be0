import Foundation
import HistProc
import HistSys
import HistModel
#if canImport(Glibc)
import Glibc
#endif

/// Small /proc readers histbench needs for its own bookkeeping (finding and killing what it started,
/// measuring histd's CPU and memory). These deliberately do not use HistProc's readers (ProcFS,
/// TreeSampler): the sampler is one of the things being measured. They do use its pure parser
/// (`ProcStat.parse`), so /proc/PID/stat is parsed by one piece of code.
enum ProcInfo {
    struct StatLine: Sendable {
        var pid: Int32
        var ppid: Int32
        var state: Character
        var startTicks: UInt64
        var utime: UInt64
        var stime: UInt64
    }

    /// Reads a whole small file with open/read; nil when the process is gone.
    static func read(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        return Sys.readToEnd(fd).map { String(decoding: $0, as: UTF8.self) }
    }

    /// /proc/PID/stat, parsed from the last ')' so a comm with spaces or parentheses is harmless.
    static func stat(_ pid: Int32) -> StatLine? {
        guard let text = read("/proc/\(pid)/stat"), let s = ProcStat.parse(text) else { return nil }
        return StatLine(pid: pid, ppid: s.ppid, state: s.state, startTicks: s.startTicks, utime: s.utime, stime: s.stime)
    }

    /// Every numeric entry of /proc.
    static func allPids() -> [Int32] {
        guard let dir = opendir("/proc") else { return [] }
        defer { closedir(dir) }
        var pids: [Int32] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if let pid = Int32(name) { pids.append(pid) }
        }
        return pids
    }

    /// All live descendants of `root` (not including it), from one pass over /proc.
    static func descendants(of root: Int32) -> [StatLine] {
        var byParent: [Int32: [StatLine]] = [:]
        for pid in allPids() { if let s = stat(pid) { byParent[s.ppid, default: []].append(s) } }
        var out: [StatLine] = []
        var stack = [root]
        while let p = stack.popLast() {
            for child in byParent[p] ?? [] {
                out.append(child)
                stack.append(child.pid)
            }
        }
        return out
    }

    /// Target of /proc/PID/exe, or nil.
    static func exe(_ pid: Int32) -> String? {
        var buf = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/\(pid)/exe", &buf, buf.count - 1)
        guard n > 0 else { return nil }
        return String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// CPU time of every thread of `pid` in ns, from /proc/PID/task/*/schedstat (field 1); nil if gone.
    static func cpuNanoseconds(_ pid: Int32) -> UInt64? {
        guard let dir = opendir("/proc/\(pid)/task") else { return nil }
        defer { closedir(dir) }
        var total: UInt64 = 0
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            guard Int32(name) != nil, let text = read("/proc/\(pid)/task/\(name)/schedstat"),
                  let first = text.split(separator: " ").first, let ns = UInt64(first) else { continue }
            total += ns
        }
        return total
    }

    /// PSS and RSS in KiB from /proc/PID/smaps_rollup.
    static func memoryKiB(_ pid: Int32) -> (pss: UInt64, rss: UInt64)? {
        guard let text = read("/proc/\(pid)/smaps_rollup") else { return nil }
        var pss: UInt64 = 0, rss: UInt64 = 0
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: " ", omittingEmptySubsequences: true)
            guard parts.count >= 2, let v = UInt64(parts[1]) else { continue }
            if parts[0] == "Pss:" { pss = v } else if parts[0] == "Rss:" { rss = v }
        }
        return (pss, rss)
    }

    /// Busy share of the whole box between two /proc/stat readings, in percent.
    static func systemTimes() -> (busy: UInt64, total: UInt64)? {
        guard let text = read("/proc/stat"), let line = text.split(separator: "\n").first else { return nil }
        let v = line.split(separator: " ").dropFirst().compactMap { UInt64($0) }
        guard v.count >= 5 else { return nil }
        let idle = v[3] + v[4]
        let total = v.reduce(0, +)
        return (total - idle, total)
    }
}

/// CLOCK_MONOTONIC in nanoseconds: the clock stampchild writes, so stamps and our own events compare.
func monoNow() -> Int64 { Int64(MonotonicInstant.now().nanoseconds) }

/// Sleeps the calling thread (scenarios are synchronous on purpose: nothing else runs beside them).
func sleepSeconds(_ s: Double) { Sys.sleep(.nanoseconds(Int64(s * 1e9))) }
