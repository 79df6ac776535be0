import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A raw control-socket client for the tests (what a script with socat would do), so a test can
/// misbehave on purpose: send garbage, half lines, never read.
final class RawControl: @unchecked Sendable {
    let fd: Int32

    init?(_ path: String) {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return nil }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            let b = Array(path.utf8)
            raw.copyBytes(from: b)
            raw[b.count] = 0
        }
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard rc == 0 else { close(fd); return nil }
        self.fd = fd
    }

    deinit { close(fd) }

    /// Writes all of `bytes` (blocking); false when the peer closed.
    @discardableResult
    func send(_ bytes: [UInt8]) -> Bool {
        var off = 0
        while off < bytes.count {
            let n = bytes[off...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return false }
            off += n
        }
        return true
    }

    @discardableResult
    func send(_ text: String) -> Bool { send(Array(text.utf8)) }

    private var buffer: [UInt8] = []

    /// The next reply line (without newline), or nil at EOF / after `timeout` seconds.
    func readLine(timeout: Double = 30) -> String? {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            if let nl = buffer.firstIndex(of: 10) {
                let line = String(decoding: buffer[..<nl], as: UTF8.self)
                buffer.removeSubrange(...nl)
                return line
            }
            let left = deadline.timeIntervalSinceNow
            if left <= 0 { return nil }
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            if poll(&p, 1, Int32(min(left * 1000, 1000)) + 1) <= 0 { continue }
            var chunk = [UInt8](repeating: 0, count: 65536)
            let n = read(fd, &chunk, chunk.count)
            if n <= 0 { return nil }
            buffer += chunk[0..<n]
        }
    }

    /// True once the server closed the connection (EOF), within `timeout` seconds.
    func closedByServer(timeout: Double) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            if poll(&p, 1, 200) <= 0 { continue }
            var chunk = [UInt8](repeating: 0, count: 65536)
            let n = read(fd, &chunk, chunk.count)
            if n <= 0 { return true }
            buffer += chunk[0..<n]
        }
        return false
    }

    /// The reply lines received so far plus what arrives within `timeout`, as JSON objects.
    static func json(_ line: String?) -> [String: Any]? {
        guard let line, let d = line.data(using: .utf8) else { return nil }
        return try? JSONSerialization.jsonObject(with: d) as? [String: Any]
    }
}

/// A config for the control tests: a socket in the workspace, no sampling.
enum ControlConfig {
    static func header(_ ws: Workspace, extra: String = "") -> String {
        """
        [supervisor]
        db = "h.db"
        log_dir = "logs"
        control_socket = "\(ws.path("run/control.sock"))"
        snapshot_interval = "off"
        scan_interval = "off"
        shutdown_timeout = "10s"
        \(extra)

        """
    }
}
