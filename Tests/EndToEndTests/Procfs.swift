import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// What the tests need to know about a process, from /proc/PID/stat.
struct ProcInfo: Hashable {
    var pid: Int32
    var state: Character
    var ppid: Int32
    var pgid: Int32
    var session: Int32
    var startTicks: UInt64
    var comm: String
}

/// Minimal /proc readers for the tests (independent of HistProc, so they check it rather than share its bugs).
enum Procfs {
    static func allPIDs() -> [Int32] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { Int32($0) }
    }

    /// The whole file. Not `FileManager.contents(atPath:)`: it takes one read(2) of a procfs file (about
    /// 4 KiB of /proc/PID/maps); FileHandle reads until EOF.
    static func read(_ path: String) -> Data? {
        guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? handle.close() }
        return (try? handle.readToEnd()) ?? Data()
    }

    static func info(_ pid: Int32) -> ProcInfo? {
        guard let data = read("/proc/\(pid)/stat") else { return nil }
        let text = String(decoding: data, as: UTF8.self)
        guard let open = text.firstIndex(of: "("), let close = text.lastIndex(of: ")") else { return nil }
        let comm = String(text[text.index(after: open)..<close])
        let fields = text[text.index(close, offsetBy: 2)...].split(separator: " ")
        // fields[0] = state (field 3); field N is fields[N - 3].
        guard fields.count > 19, let state = fields[0].first, let ppid = Int32(fields[1]), let pgid = Int32(fields[2]),
              let session = Int32(fields[3]), let start = UInt64(fields[19]) else { return nil }
        return ProcInfo(pid: pid, state: state, ppid: ppid, pgid: pgid, session: session, startTicks: start, comm: comm)
    }

    /// Alive (not a zombie) with this start time.
    static func isAlive(pid: Int32, startTicks: UInt64) -> Bool {
        guard let i = info(pid) else { return false }
        return i.startTicks == startTicks && i.state != "Z"
    }

    /// Whether the process's environment or command line contains `marker` (or `alt`).
    static func carries(pid: Int32, marker: String, or alt: String) -> Bool {
        for file in ["environ", "cmdline"] {
            guard let d = read("/proc/\(pid)/\(file)"), !d.isEmpty else { continue }
            if d.range(of: Data(marker.utf8)) != nil || d.range(of: Data(alt.utf8)) != nil { return true }
        }
        return false
    }

    static func fdCount(_ pid: Int32) -> Int {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd")) ?? []).count
    }

    /// VmRSS in KiB.
    static func rssKB(_ pid: Int32) -> Int {
        guard let d = read("/proc/\(pid)/status") else { return -1 }
        for line in String(decoding: d, as: UTF8.self).split(separator: "\n") where line.hasPrefix("VmRSS:") {
            return Int(line.split(separator: " ", omittingEmptySubsequences: true)[1]) ?? -1
        }
        return -1
    }

    /// The children of `pid` (by ppid), from one walk of /proc.
    static func children(of pid: Int32) -> [ProcInfo] {
        allPIDs().compactMap(info).filter { $0.ppid == pid }
    }
}
