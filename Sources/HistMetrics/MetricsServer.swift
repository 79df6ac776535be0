#if canImport(Glibc)
import Glibc
#endif
import FlyingFox
import FlyingSocks
import Foundation
import HistModel
import Synchronization

/// Serves `GET /metrics` for a `SupervisorMetrics` on a loopback TCP port or a unix socket.
///
/// Why FlyingFox: the endpoint answers one small GET a few times a minute. FlyingFox 0.27.1 is a
/// complete HTTP/1.1 server (keep-alive, timeouts, unix sockets) on its own poll-based socket pool,
/// with no dependency of its own, so it adds seconds to a clean build; Hummingbird 2.28.1 would
/// bring swift-nio and its friends (minutes per clean CI build) for nothing this endpoint needs,
/// and a hand-written responder would be code to maintain where a library does the job.
/// It runs on Swift's cooperative pool, apart from the engine thread and the writer thread.
public final class MetricsServer: Sendable {
    private let server: HTTPServer
    public let address: MetricsAddress
    private let task: Mutex<Task<Void, any Error>?> = Mutex(nil)

    public struct StartError: Error, CustomStringConvertible {
        public var description: String
    }

    /// Binds and starts listening; throws (with the reason) when the address cannot be used.
    public static func start(_ address: MetricsAddress, metrics: SupervisorMetrics) async throws -> MetricsServer {
        let handler = MetricsHandler(metrics: metrics)
        let server: HTTPServer
        switch address {
        case .tcp(let host, let port):
            if host.contains(":") {
                server = HTTPServer(address: try sockaddr_in6.inet6(ip6: host, port: port), timeout: 15,
                                    logger: .disabled, handler: handler)
            } else {
                server = HTTPServer(address: try sockaddr_in.inet(ip4: host, port: port), timeout: 15,
                                    logger: .disabled, handler: handler)
            }
        case .unix(let path):
            // A stale socket left by an earlier histd (histd check refuses a live one).
            var st = stat()
            if lstat(path, &st) == 0, st.st_mode & S_IFMT == S_IFSOCK { unlink(path) }
            server = HTTPServer(address: sockaddr_un.unix(path: path), timeout: 15, logger: .disabled, handler: handler)
        }
        let me = MetricsServer(server: server, address: address)
        // run() binds, then serves until stopped; a bind error ends it at once. Wait for either.
        let ended = Mutex<(any Error)??>(nil)
        let task = Task {
            do { try await server.run(); ended.withLock { $0 = .some(nil) } } catch {
                ended.withLock { $0 = .some(error) }
                throw error
            }
        }
        me.task.withLock { $0 = task }
        let deadline = ContinuousClock.now + .seconds(10)
        while !(await server.isListening) {
            if let result = ended.withLock({ $0 }) {
                throw StartError(description: "cannot listen on \(address): \(result.map { "\($0)" } ?? "the server ended")")
            }
            if ContinuousClock.now > deadline {
                task.cancel()
                throw StartError(description: "cannot listen on \(address): not listening after 10 s")
            }
            try? await Task.sleep(for: .milliseconds(5))
        }
        return me
    }

    private init(server: HTTPServer, address: MetricsAddress) {
        self.server = server
        self.address = address
    }

    /// Closes the listening socket (and removes a unix socket file).
    public func stop() async {
        await server.stop(timeout: 1)
        task.withLock { $0?.cancel() }
        if case .unix(let path) = address { unlink(path) }
    }
}

/// `GET /metrics` (and `HEAD`); anything else is 404 or 405.
struct MetricsHandler: HTTPHandler {
    let metrics: SupervisorMetrics

    func handleRequest(_ request: HTTPRequest) async throws -> HTTPResponse {
        guard request.path == "/metrics" else {
            return HTTPResponse(statusCode: .notFound, headers: [.contentType: "text/plain; charset=utf-8"],
                                body: Data("not found: histd serves GET /metrics\n".utf8))
        }
        guard request.method == .GET || request.method == .HEAD else {
            var headers = HTTPHeaders()
            headers[.contentType] = "text/plain; charset=utf-8"
            headers[HTTPHeader("Allow")] = "GET, HEAD"
            return HTTPResponse(statusCode: .methodNotAllowed, headers: headers, body: Data("use GET\n".utf8))
        }
        let format = ExpositionFormat.negotiate(accept: request.headers[HTTPHeader("Accept")])
        let body = metrics.render(format)
        return HTTPResponse(statusCode: .ok, headers: [.contentType: format.contentType],
                            body: request.method == .HEAD ? Data() : Data(body))
    }
}
