#if canImport(Glibc)
import Glibc
#endif
import HistModel

/// Where the autoscaler reads CPU counters from (a fake in tests of the driver).
public protocol PoolCPUProbe: Sendable {
    /// Clock ticks per second (the unit of the tick counts).
    var ticksPerSecond: Int { get }
    /// utime+stime (ticks) of each instance's process tree; instances that are gone are omitted.
    func treeTicks(_ instances: [InstanceInfo]) -> [InstanceID: UInt64]
    /// The machine's `/proc/stat` CPU counters, nil if unreadable.
    func systemTicks() -> SystemCPUReading?
}

/// Reads `/proc` directly: per tree, the root's utime+stime+cutime+cstime plus the same of every
/// live descendant (found through `/proc/PID/task/TID/children`).
///
/// A small, self-contained reader kept inside the pools code until HistProc's `TreeSampler`
/// (same totals) is on `main`; then this should delegate to it so there is one /proc reader.
public struct ProcCPUProbe: PoolCPUProbe {
    public let ticksPerSecond: Int

    public init() { ticksPerSecond = max(1, Int(sysconf(Int32(_SC_CLK_TCK)))) }

    public func treeTicks(_ instances: [InstanceInfo]) -> [InstanceID: UInt64] {
        var out: [InstanceID: UInt64] = [:]
        for info in instances {
            guard let root = Self.stat(info.identity.pid), root.startTicks == info.identity.startTicks else { continue }
            var total = root.ticks
            var seen: Set<Int32> = [info.identity.pid]
            var queue = [info.identity.pid]
            while let pid = queue.popLast() {
                for child in Self.children(of: pid) where seen.insert(child).inserted {
                    guard let s = Self.stat(child), s.ppid == pid else { continue }
                    total &+= s.ticks
                    queue.append(child)
                }
            }
            out[info.id] = total
        }
        return out
    }

    public func systemTicks() -> SystemCPUReading? {
        Self.readFile("/proc/stat").flatMap(CPUSignal.parseProcStat)
    }

    struct Stat {
        var ppid: Int32
        /// utime + stime + cutime + cstime.
        var ticks: UInt64
        var startTicks: UInt64
    }

    /// Fields 4 (ppid), 14–17 (utime, stime, cutime, cstime) and 22 (starttime), parsed after the last ')'.
    static func stat(_ pid: Int32) -> Stat? {
        guard let text = readFile("/proc/\(pid)/stat"), let close = text.lastIndex(of: ")") else { return nil }
        // After ")": field 3 (state) is index 0.
        let f = text[text.index(after: close)...].split(separator: " ")
        guard f.count >= 20, let ppid = Int32(f[1]) else { return nil }
        let n: (Int) -> UInt64 = { UInt64(f[$0]) ?? 0 }
        return Stat(ppid: ppid, ticks: n(11) &+ n(12) &+ n(13) &+ n(14), startTicks: n(19))
    }

    static func children(of pid: Int32) -> [Int32] {
        guard let dir = opendir("/proc/\(pid)/task") else { return [] }
        defer { closedir(dir) }
        var out: [Int32] = []
        while let e = readdir(dir) {
            let name = withUnsafeBytes(of: e.pointee.d_name) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
            guard Int32(name) != nil, let text = readFile("/proc/\(pid)/task/\(name)/children") else { continue }
            out += text.split(separator: " ").compactMap { Int32($0.trimmingCharacters()) }
        }
        return out
    }

    static func readFile(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { Glibc.close(fd) }
        var out = [UInt8]()
        var buf = [UInt8](repeating: 0, count: 8192)
        while true {
            let n = read(fd, &buf, buf.count)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            out += buf[0..<n]
        }
        return out.isEmpty ? nil : String(decoding: out, as: UTF8.self)
    }
}

extension Substring {
    fileprivate func trimmingCharacters() -> Substring {
        var s = self
        while let c = s.last, c.isWhitespace { s.removeLast() }
        while let c = s.first, c.isWhitespace { s.removeFirst() }
        return s
    }
}
