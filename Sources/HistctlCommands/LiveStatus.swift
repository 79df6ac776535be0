import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// histd's live `status` answer (docs/CONTROL.md), read into the fields the table and CSV show.
///
/// Why not JSONSerialization: for 500 units it builds a tree of bridged Foundation objects, and every
/// `as? String` / `as? Int` on it is a dynamic cast; with the padding through NSString that was more than
/// half of `histctl status`'s instructions (BENCHMARKS.md, "Process start"). The reply is read with
/// `ReplyJSON`. `--format json` still goes through JSONSerialization, so it passes on every key histd
/// sends, unchanged.
struct LiveStatus {
    struct Unit {
        var name: String?
        var state: String?
        var pid: Int?
        var uptimeMs: Int?
        var backoffRemainingMs: Int?
        var restarts: Int?

        /// A field of another type than expected counts as missing, as histctl always read it.
        init(_ u: ReplyJSON) {
            name = u["name"]?.string
            state = u["state"]?.string
            pid = u["pid"]?.int
            uptimeMs = u["uptime_ms"]?.int
            backoffRemainingMs = u["backoff_remaining_ms"]?.int
            restarts = u["restarts"]?.int
        }
    }

    var result: String?
    var message: String?
    var histdPid: Int?
    var units: [Unit]?

    /// Reads the reply line; not JSON, or not an object: "histd's answer is not JSON".
    static func decode(_ line: ArraySlice<UInt8>) throws(ControlClient.Unreachable) -> LiveStatus {
        guard let reply = try? ReplyJSON.parse(line), case .object = reply else {
            throw ControlClient.Unreachable(message: "histd's answer is not JSON", code: 1)
        }
        var s = LiveStatus()
        s.result = reply["result"]?.string
        s.message = reply["message"]?.string
        s.histdPid = reply["histd_pid"]?.int
        s.units = reply["units"]?.array?.map(Unit.init)
        return s
    }

    init() {}

    /// The live table: a header, then one row per unit, columns padded to their widest cell and joined by
    /// two spaces (the last column unpadded); built as one string so it is written at once.
    static func table(_ units: [Unit], histdPid: Int) -> String {
        var rows = [["NAME", "STATE", "PID", "UPTIME", "BACKOFF", "RESTARTS"]]
        rows.reserveCapacity(units.count + 1)
        for u in units { rows.append(cells(u)) }
        let widths = (0..<6).map { c in rows.map { $0[c].count }.max() ?? 0 }
        var out = "live from histd (pid \(histdPid))\n"
        out.reserveCapacity(rows.count * (widths.reduce(0, +) + 12))
        for r in rows {
            for c in 0..<6 {
                out += r[c]
                if c < 5 {
                    out += String(repeating: " ", count: widths[c] - r[c].count + 2)
                }
            }
            out += "\n"
        }
        return out
    }

    /// The CSV: the same columns, "-" cells empty, CRLF line ends.
    static func csv(_ units: [Unit]) -> String {
        var rows = [["NAME", "STATE", "PID", "UPTIME", "BACKOFF", "RESTARTS"]]
        for u in units { rows.append(cells(u)) }
        return rows.map { $0.map { $0 == "-" ? "" : $0 }.joined(separator: ",") }.joined(separator: "\r\n") + "\r\n"
    }

    static func cells(_ u: Unit) -> [String] {
        [u.name ?? "?", u.state ?? "?", u.pid.map(String.init) ?? "-",
         u.uptimeMs.map(format(ms:)) ?? "-", u.backoffRemainingMs.map(format(ms:)) ?? "-", String(u.restarts ?? 0)]
    }

    static func format(ms: Int) -> String {
        let s = ms / 1000
        if s < 60 { return oneDecimal(Double(ms) / 1000) + "s" }
        if s < 3600 { return "\(s / 60)m\(s % 60)s" }
        if s < 86400 { return "\(s / 3600)h\(s % 3600 / 60)m" }
        return "\(s / 86400)d\(s % 86400 / 3600)h"
    }

    /// `String(format: "%.1f", x)` through libc's vsnprintf directly: the same digits (printf rounds the
    /// binary value), without Foundation's format parser, which costs more per call than the rest of a row.
    static func oneDecimal(_ x: Double) -> String {
        withUnsafeTemporaryAllocation(of: CChar.self, capacity: 32) { buf in
            let n = withVaList([x]) { vsnprintf(buf.baseAddress, 32, "%.1f", $0) }
            return String(decoding: UnsafeRawBufferPointer(start: buf.baseAddress, count: Int(max(0, min(n, 31)))).bindMemory(to: UInt8.self),
                          as: UTF8.self)
        }
    }
}
