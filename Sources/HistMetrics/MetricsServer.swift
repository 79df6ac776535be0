#if canImport(Glibc)
import Glibc
#endif
import Foundation  // Thread and DispatchSemaphore, as the other service threads
import HistModel
import HistSys
import Synchronization

/// Serves `GET /metrics` for a `SupervisorMetrics` on a loopback TCP port or a unix socket, from its
/// own thread: one poll(2) loop over the listening socket, a wake-up pipe and the open connections.
///
/// Why hand-written (FlyingFox 0.27.1 served this before): FlyingFox's proxy handler imports
/// FoundationNetworking, so every histd loaded libcurl and the 28 libraries it pulls in, about
/// 6.3 MiB resident of histd's 22-27 MiB PSS (BENCHMARKS.md, issue 18), for an endpoint a scraper
/// asks a few times a minute; and it ran on Swift's cooperative pool. Hummingbird 2.28.1 would bring
/// swift-nio, its event-loop threads and minutes per clean CI build. What a Prometheus scrape needs
/// is small: read one request head, answer, close (`Connection: close`; scrapers reconnect), with a
/// size cap and a deadline so a slow or hostile client costs one slot and nothing else.
public final class MetricsServer: @unchecked Sendable {
    public let address: MetricsAddress
    private let metrics: SupervisorMetrics
    private let listenFD: Int32
    private let wake: (read: Int32, write: Int32)
    private let stopped = Mutex(false)
    private let finished = DispatchSemaphore(value: 0)
    /// Touched only by the server thread.
    private var connections: [Connection] = []

    /// A request head larger than this is refused (a scrape's is a few hundred bytes).
    static let maxHead = 16 * 1024
    /// A connection that has not sent its head, or taken its answer, by then is closed.
    static let timeout: Duration = .seconds(15)
    /// Connections served at once; more wait in the listen backlog.
    static let maxConnections = 32

    public struct StartError: Error, CustomStringConvertible {
        public var description: String
    }

    /// Binds, listens and starts the thread; throws (with the reason) when the address cannot be used.
    public static func start(_ address: MetricsAddress, metrics: SupervisorMetrics) async throws -> MetricsServer {
        let fd = try listen(on: address)
        guard let wake = Sys.makePipe() else {
            let e = errno
            Sys.close(fd)
            throw StartError(description: "cannot listen on \(address): pipe: \(Sys.errnoText(e))")
        }
        Sys.setNonBlocking(wake.read)
        let server = MetricsServer(address: address, metrics: metrics, listenFD: fd, wake: wake)
        let thread = Thread.named("histd-metrics") { [server] in
            server.run()
            server.finished.signal()
        }
        thread.start()
        return server
    }

    private init(address: MetricsAddress, metrics: SupervisorMetrics, listenFD: Int32, wake: (read: Int32, write: Int32)) {
        self.address = address
        self.metrics = metrics
        self.listenFD = listenFD
        self.wake = wake
    }

    /// Stops the thread, closes every connection and the listening socket (removing a unix socket file).
    public func stop() async {
        let first = stopped.withLock { s in
            defer { s = true }
            return !s
        }
        guard first else { return }
        var byte: UInt8 = 1
        _ = write(wake.write, &byte, 1)
        finished.wait()
        for c in connections { Sys.close(c.fd) }
        connections.removeAll()
        Sys.close(listenFD)
        Sys.close(wake.read)
        Sys.close(wake.write)
        if case .unix(let path) = address { unlink(path) }
    }

    private static func listen(on address: MetricsAddress) throws -> Int32 {
        let flags = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue)
        let fd: Int32
        let rc: Int32
        switch address {
        case .tcp(let host, let port):
            fd = socket(host.contains(":") ? AF_INET6 : AF_INET, flags, 0)
            guard fd >= 0 else { throw StartError(description: "cannot listen on \(address): socket: \(Sys.errnoText(errno))") }
            // As ListenProbe (histd check) assumes: a port in TIME_WAIT is not "in use".
            var one: Int32 = 1
            _ = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
            rc = Sys.bindInet(fd, host: host, port: port)
            if rc == -2 {
                Sys.close(fd)
                throw StartError(description: "cannot listen on \(address): \"\(host)\" is not an IP address")
            }
        case .unix(let path):
            fd = socket(AF_UNIX, flags, 0)
            guard fd >= 0 else { throw StartError(description: "cannot listen on \(address): socket: \(Sys.errnoText(errno))") }
            // A stale socket left by an earlier histd (histd check refuses a live one).
            var st = stat()
            if lstat(path, &st) == 0, st.st_mode & S_IFMT == S_IFSOCK { unlink(path) }
            rc = Sys.bindUnix(fd, path)
        }
        guard rc == 0, Glibc.listen(fd, 64) == 0 else {
            let e = errno
            Sys.close(fd)
            throw StartError(description: "cannot listen on \(address): \(Sys.errnoText(e))")
        }
        return fd
    }

    // MARK: - The thread

    private final class Connection {
        let fd: Int32
        var deadline: MonotonicInstant
        var head: [UInt8] = []
        /// The whole answer, once the head is in; `sent` of it written so far.
        var answer: [UInt8]?
        var sent = 0
        /// Answered and our side shut: what the client still sends is read and dropped until it
        /// closes (a lingering close, as web servers do), because closing with unread bytes sends a
        /// reset that can destroy the answer before the client reads it (a refused oversized head).
        var lingering = false

        var wants: Int16 { Int16(answer == nil || lingering ? POLLIN : POLLOUT) }

        init(fd: Int32, deadline: MonotonicInstant) {
            self.fd = fd
            self.deadline = deadline
        }
    }

    private func run() {
        var chunk = [UInt8](repeating: 0, count: 4096)
        while !stopped.withLock({ $0 }) {
            var fds = [pollfd(fd: wake.read, events: Int16(POLLIN), revents: 0)]
            if connections.count < Self.maxConnections { fds.append(pollfd(fd: listenFD, events: Int16(POLLIN), revents: 0)) }
            let first = fds.count
            for c in connections {
                fds.append(pollfd(fd: c.fd, events: c.wants, revents: 0))
            }
            // Wake at the nearest deadline; with no connection, only a client or stop() wakes us.
            let now = MonotonicInstant.now()
            let timeoutMs: Int32 = connections.map { c in
                c.deadline < now ? 0 : Int32(clamping: c.deadline.since(now).milliseconds + 1)
            }.min() ?? -1
            guard Sys.poll(&fds, timeoutMs: timeoutMs) >= 0 else {
                // EINTR is retried inside; anything else (ENOMEM) is not worth a busy loop.
                Sys.sleep(.milliseconds(50))
                continue
            }
            if fds[0].revents != 0 { break }
            if first == 2 && fds[1].revents & Int16(POLLIN) != 0 { acceptAll() }
            var keep: [Connection] = []
            let after = MonotonicInstant.now()
            for (i, c) in connections.enumerated() {
                let revents = first + i < fds.count ? fds[first + i].revents : 0
                if serve(c, revents: revents, chunk: &chunk) && after < c.deadline {
                    keep.append(c)
                } else {
                    Sys.close(c.fd)
                }
            }
            connections = keep
        }
    }

    private func acceptAll() {
        while connections.count < Self.maxConnections {
            // accept4 is not visible to Swift here; as the control server does: accept, then the flags
            // (histd_spawn's children close every fd above its slots, so the gap leaks nothing).
            let fd = Sys.retrying { accept(listenFD, nil, nil) }
            guard fd >= 0 else { return }  // EAGAIN: none left; anything else: the client is gone
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            Sys.setNonBlocking(fd)
            connections.append(Connection(fd: fd, deadline: MonotonicInstant.now().adding(Self.timeout)))
        }
    }

    /// Reads or writes what the socket allows. false: the connection is done (answered, or broken).
    private func serve(_ c: Connection, revents: Int16, chunk: inout [UInt8]) -> Bool {
        if c.answer == nil || c.lingering {
            guard revents != 0 else { return true }
            let n = chunk.withUnsafeMutableBytes { Glibc.read(c.fd, $0.baseAddress, $0.count) }
            if n < 0 { return errno == EAGAIN || errno == EINTR }
            if n == 0 { return false }
            if c.lingering { return true }
            c.head += chunk[0..<n]
            if let end = Self.headEnd(c.head), end <= Self.maxHead {
                c.answer = respond(to: Array(c.head[..<end]))
            } else if c.head.count > Self.maxHead {
                c.answer = Self.response(431, "text/plain; charset=utf-8", body: Array("request head too large\n".utf8))
            } else {
                return true
            }
            c.head = []
        }
        guard let answer = c.answer else { return true }
        let n = answer.withUnsafeBytes { raw in
            send(c.fd, raw.baseAddress! + c.sent, raw.count - c.sent, Int32(MSG_NOSIGNAL))
        }
        if n < 0 { return errno == EAGAIN || errno == EINTR }
        c.sent += n
        if c.sent == answer.count {
            shutdown(c.fd, Int32(SHUT_WR))
            c.lingering = true
            c.deadline = min(c.deadline, MonotonicInstant.now().adding(.seconds(2)))
        }
        return true
    }

    /// The offset just past the blank line that ends a request head, if it has arrived.
    static func headEnd(_ bytes: [UInt8]) -> Int? {
        guard bytes.count >= 4 else { return nil }
        for i in 3..<bytes.count where bytes[i] == 10 {
            if bytes[i - 1] == 13 && bytes[i - 2] == 10 && bytes[i - 3] == 13 { return i + 1 }
            if bytes[i - 1] == 10 { return i + 1 }  // a bare-LF client
        }
        return nil
    }

    /// `GET /metrics` (and `HEAD`); anything else is 400, 404 or 405.
    func respond(to head: [UInt8]) -> [UInt8] {
        let text = String(decoding: head, as: UTF8.self)
        let lines = text.split(omittingEmptySubsequences: true, whereSeparator: { $0 == "\r\n" || $0 == "\n" || $0 == "\r" })
        let parts = lines.first?.split(separator: " ") ?? []
        guard parts.count == 3, parts[2].hasPrefix("HTTP/1.") else {
            return Self.response(400, "text/plain; charset=utf-8", body: Array("bad request\n".utf8))
        }
        let method = parts[0], target = parts[1]
        let path = target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        guard path == "/metrics" else {
            return Self.response(404, "text/plain; charset=utf-8", body: Array("not found: histd serves GET /metrics\n".utf8))
        }
        guard method == "GET" || method == "HEAD" else {
            return Self.response(405, "text/plain; charset=utf-8", body: Array("use GET\n".utf8), extra: "Allow: GET, HEAD\r\n")
        }
        var accept: String?
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            if line[..<colon].lowercased() == "accept" {
                accept = String(line[line.index(after: colon)...]).trimmingCharacters(in: .whitespaces)
            }
        }
        let format = ExpositionFormat.negotiate(accept: accept)
        return Self.response(200, format.contentType, body: metrics.render(format), headOnly: method == "HEAD")
    }

    static func response(_ status: Int, _ contentType: String, body: [UInt8], extra: String = "", headOnly: Bool = false) -> [UInt8] {
        let reason = [200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed",
                      431: "Request Header Fields Too Large"][status] ?? "Error"
        let head = "HTTP/1.1 \(status) \(reason)\r\nContent-Type: \(contentType)\r\nContent-Length: \(body.count)\r\n"
            + "Connection: close\r\n\(extra)\r\n"
        return Array(head.utf8) + (headOnly ? [] : body)
    }
}
