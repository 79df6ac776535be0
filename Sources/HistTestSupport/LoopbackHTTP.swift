import Foundation
#if canImport(Glibc)
import Glibc
import HistSys
#endif

/// A blocking HTTP/1.1 client for histd's metrics endpoint and Prometheus on loopback or a unix
/// socket, and a free loopback port to listen on: one place for the tests and histbench.
///
/// Why hand-written rather than URLSession or AsyncHTTPClient: one GET with `Connection: close` is all
/// it does, the unix-socket case has no URL, and callers run it off Swift's cooperative pool (it blocks).
public enum LoopbackHTTP {
    public struct Answer: Sendable {
        public var status: Int
        /// Lower-cased names.
        public var headers: [String: String]
        public var body: [UInt8]
        /// Every byte read, head included.
        public var bytesRead: Int
    }

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// A port on 127.0.0.1 that was free a moment ago (bound to 0, read back, closed).
    public static func freePort() throws -> UInt16 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) == 0 && getsockname(fd, $0, &len) == 0 }
        }
        guard ok else { throw Failure(description: "no free port: \(String(cString: strerror(errno)))") }
        return UInt16(bigEndian: addr.sin_port)
    }

    /// One request to 127.0.0.1:`port`; `timeout` bounds each receive.
    public static func tcp(port: UInt16, path: String = "/metrics", accept: String? = nil, method: String = "GET",
                           timeout: Int = 20) throws -> Answer {
        try tcp(port: port, request: request(path: path, accept: accept, method: method), timeout: timeout)
    }

    /// A connected TCP socket to 127.0.0.1:`port` (the caller closes it): for tests that hold a
    /// connection open or send a request byte by byte.
    public static func connectTCP(port: UInt16) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = port.bigEndian
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard rc == 0 else {
            let e = errno
            close(fd)
            throw Failure(description: "connect 127.0.0.1:\(port): \(String(cString: strerror(e)))")
        }
        return fd
    }

    /// `request` (raw bytes: any head, well-formed or not) to 127.0.0.1:`port`, and the answer.
    public static func tcp(port: UInt16, request: [UInt8], timeout: Int = 20) throws -> Answer {
        let fd = try connectTCP(port: port)
        defer { close(fd) }
        return try exchange(fd, request: request, timeout: timeout)
    }

    /// One GET of `path` over the unix socket at `socketPath`.
    public static func unix(path socketPath: String, path: String = "/metrics", accept: String? = nil,
                            timeout: Int = 20) throws -> Answer {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        let rc = Sys.connectUnix(fd, socketPath)
        guard rc == 0 else { throw Failure(description: "connect \(socketPath): \(String(cString: strerror(errno)))") }
        return try exchange(fd, request: request(path: path, accept: accept, method: "GET"), timeout: timeout)
    }

    private static func request(path: String, accept: String?, method: String) -> [UInt8] {
        var request = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        if let accept { request += "Accept: \(accept)\r\n" }
        request += "\r\n"
        return Array(request.utf8)
    }

    private static func exchange(_ fd: Int32, request bytes: [UInt8], timeout: Int) throws -> Answer {
        _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        var limit = timeval(tv_sec: timeout, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        var data: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = Sys.retrying { recv(fd, &buf, buf.count, 0) }
            if n <= 0 { break }
            data += buf[0..<n]
            // Stop once the whole body (Content-Length) is here: a server may keep the connection open.
            if let answer = parse(data), answer.body.count >= Int(answer.headers["content-length"] ?? "") ?? Int.max { return answer }
        }
        guard let answer = parse(data) else { throw Failure(description: "no HTTP answer (\(data.count) bytes read)") }
        return answer
    }

    private static func parse(_ data: [UInt8]) -> Answer? {
        guard data.count >= 4, let end = (0...(data.count - 4)).first(where: {
            data[$0] == 13 && data[$0 + 1] == 10 && data[$0 + 2] == 13 && data[$0 + 3] == 10 }) else { return nil }
        let head = String(decoding: data[..<end], as: UTF8.self).components(separatedBy: "\r\n")
        guard let statusLine = head.first, statusLine.split(separator: " ").count >= 2,
              let status = Int(statusLine.split(separator: " ")[1]) else { return nil }
        var headers: [String: String] = [:]
        for line in head.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return Answer(status: status, headers: headers, body: Array(data[(end + 4)...]), bytesRead: data.count)
    }
}
