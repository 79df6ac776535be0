#if canImport(Glibc)
import Glibc
#endif
import HistSys

/// A raw control-socket client for the tests and histbench's control flood (what a script with socat
/// would do), so a client can misbehave on purpose: send garbage, half lines, never read.
public final class RawControl: @unchecked Sendable {
    public let fd: Int32

    /// Connects to the unix socket at `path`; nil when nothing listens there. `receiveTimeout` and
    /// `sendTimeout` (seconds) set SO_RCVTIMEO / SO_SNDTIMEO, for callers that use `fd` directly.
    public init?(_ path: String, receiveTimeout: Double? = nil, sendTimeout: Double? = nil) {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return nil }
        let rc = Sys.connectUnix(fd, path)
        guard rc == 0 else { close(fd); return nil }
        self.fd = fd
        for (option, seconds) in [(SO_RCVTIMEO, receiveTimeout), (SO_SNDTIMEO, sendTimeout)] {
            guard let seconds else { continue }
            var tv = timeval(tv_sec: Int(seconds), tv_usec: Int((seconds - seconds.rounded(.down)) * 1_000_000))
            setsockopt(fd, SOL_SOCKET, option, &tv, socklen_t(MemoryLayout<timeval>.size))
        }
    }

    deinit { close(fd) }

    /// Writes all of `bytes` (blocking); false when the peer closed.
    @discardableResult
    public func send(_ bytes: [UInt8]) -> Bool {
        var off = 0
        while off < bytes.count {
            let n = bytes[off...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return false }
            off += n
        }
        return true
    }

    @discardableResult
    public func send(_ text: String) -> Bool { send(Array(text.utf8)) }

    private var buffer: [UInt8] = []

    /// The next reply line (without newline), or nil at EOF / after `timeout` seconds.
    public func readLine(timeout: Double = 30) -> String? {
        let deadline = ContinuousClock.now + .milliseconds(Int(timeout * 1000))
        while true {
            if let nl = buffer.firstIndex(of: 10) {
                let line = String(decoding: buffer[..<nl], as: UTF8.self)
                buffer.removeSubrange(...nl)
                return line
            }
            let left = deadline - ContinuousClock.now
            if left <= .zero { return nil }
            let leftMs = left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            if poll(&p, 1, Int32(min(leftMs, 1000)) + 1) <= 0 { continue }
            var chunk = [UInt8](repeating: 0, count: 65536)
            let n = read(fd, &chunk, chunk.count)
            if n <= 0 { return nil }
            buffer += chunk[0..<n]
        }
    }

    /// True once the server closed the connection (EOF), within `timeout` seconds.
    public func closedByServer(timeout: Double) -> Bool {
        let deadline = ContinuousClock.now + .milliseconds(Int(timeout * 1000))
        while ContinuousClock.now < deadline {
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            if poll(&p, 1, 200) <= 0 { continue }
            var chunk = [UInt8](repeating: 0, count: 65536)
            let n = read(fd, &chunk, chunk.count)
            if n <= 0 { return true }
            buffer += chunk[0..<n]
        }
        return false
    }
}
