#if canImport(Glibc)
import Glibc
#endif
import Foundation
import HistCore
import HistModel
import Logging
import Synchronization
import Testing
@testable import HistMetrics

/// Keeps every event (beside the metrics, through a TeeSink), to check counters against them.
final class EventLog: HistorySink {
    private let store = Mutex<[HistEvent]>([])
    func record(_ event: HistEvent) { store.withLock { $0.append(event) } }
    func record(_ sweep: SnapshotSweep) {}
    func record(_ scan: ScanReport) {}
    var events: [HistEvent] { store.withLock { $0 } }
}

/// One exposition, parsed: the value of each series line (`name{labels}` exactly as written).
struct Exposition {
    var values: [String: Double] = [:]
    var text: String

    init(_ bytes: [UInt8]) {
        text = String(decoding: bytes, as: UTF8.self)
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let v = Double(line[line.index(after: space)...]) else { continue }
            values[String(line[..<space])] = v
        }
    }

    subscript(_ series: String) -> Double? { values[series] }
}

/// Polls until `condition` holds or `timeout` passes.
@discardableResult
func waitUntil(_ timeout: Duration = .seconds(20), _ condition: () -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if condition() { return true }
        try? await Task.sleep(for: .milliseconds(20))
    }
    return condition()
}

func makeDir() -> String {
    var template = Array("/tmp/histmetrics-test-XXXXXX".utf8CString)
    return template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
}

func removeTree(_ path: String) { try? FileManager.default.removeItem(atPath: path) }

func writeScript(_ dir: String, _ name: String, _ body: String) -> String {
    let file = "\(dir)/\(name).sh"
    // O_CLOEXEC: a child forked meanwhile by another test must not keep the script open for writing, or
    // its exec fails with ETXTBSY (seen in a full-suite CI run: the programs never started).
    let fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o755)
    precondition(fd >= 0, "open \(file): \(errno)")
    let bytes = Array(("#!/bin/sh\n" + body + "\n").utf8)
    _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    close(fd)
    chmod(file, 0o755)
    return file
}

func program(_ name: String, _ script: String, restart: RestartPolicy = .always, delay: Duration = .milliseconds(50),
             maxRestarts: Int = 0) -> ProgramSpec {
    ProgramSpec(name: name, command: [script], restart: restart,
                backoff: BackoffPolicy(restartDelay: delay, backoffFactor: 1, maxBackoff: .seconds(1),
                                       maxRestarts: maxRestarts, resetAfter: .seconds(60)),
                stopTimeout: .seconds(3))
}

/// Runs a supervisor whose sink is `metrics` (and an event log), then shuts it down and kills,
/// by pid, anything it started that is still alive, even when `body` fails.
func withMetrics(_ programs: [ProgramSpec], pools: [PoolSpec] = [], dir: String,
                 _ body: (Supervisor, SupervisorMetrics, EventLog) async throws -> Void) async throws {
    let metrics = SupervisorMetrics(programs: programs.map(\.name), pools: pools, version: "test")
    let log = EventLog()
    var logger = Logger(label: "histd.test")
    logger.logLevel = .warning
    let supervisor = try Supervisor(programs: programs, pools: pools,
                                    supervisor: SupervisorSpec(logDir: dir + "/logs", shutdownTimeout: .seconds(10)),
                                    sink: TeeSink([log, metrics]), logger: logger,
                                    options: SupervisorOptions(reapScope: .supervisedOnly, handleSignals: false, autoscale: false))
    metrics.attach(supervisor: supervisor, writer: nil)
    try supervisor.start()
    var failure: (any Error)?
    do { try await body(supervisor, metrics, log) } catch { failure = error }
    supervisor.post(.shutdown)
    await waitUntil(.seconds(30)) { supervisor.isFinished }
    for event in log.events {
        if case .started(let info) = event.payload, histd_alive(info.identity) { _ = kill(info.identity.pid, SIGKILL) }
    }
    if let failure { throw failure }
}

/// Same pid and same start time (field 22 of /proc/PID/stat): not a reused pid.
func histd_alive(_ identity: ProcessIdentity) -> Bool {
    guard let text = try? String(contentsOfFile: "/proc/\(identity.pid)/stat", encoding: .utf8),
          let close = text.lastIndex(of: ")") else { return false }
    let fields = text[text.index(close, offsetBy: 2)...].split(separator: " ")
    return fields.count > 19 && UInt64(fields[19]) == identity.startTicks && fields[0] != "Z"
}

/// Runs blocking socket code on a Dispatch thread: blocking a thread of Swift's cooperative pool
/// (2 threads on this box) could starve the server under test, which runs on that pool.
func offPool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global().async { continuation.resume(with: Result { try body() }) }
    }
}

/// A minimal HTTP/1.1 client for loopback tests: one request, `Connection: close`, whole answer.
enum HTTPGet {
    struct Answer: Sendable {
        var status: Int
        var headers: [String: String]
        var body: [UInt8]
    }

    static func tcp(port: UInt16, path: String = "/metrics", accept: String? = nil, method: String = "GET") throws -> Answer {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = port.bigEndian
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard rc == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .ECONNREFUSED) }
        return try exchange(fd, path: path, accept: accept, method: method)
    }

    static func unix(path socketPath: String, accept: String? = nil) throws -> Answer {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in for (i, b) in socketPath.utf8.enumerated() { raw[i] = b } }
        let rc = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) } }
        guard rc == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .ECONNREFUSED) }
        return try exchange(fd, path: "/metrics", accept: accept, method: "GET")
    }

    private static func exchange(_ fd: Int32, path: String, accept: String?, method: String) throws -> Answer {
        var request = "\(method) \(path) HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
        if let accept { request += "Accept: \(accept)\r\n" }
        request += "\r\n"
        let bytes = Array(request.utf8)
        _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        var timeout = timeval(tv_sec: 20, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var data: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = recv(fd, &buf, buf.count, 0)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            data += buf[0..<n]
            // Stop once the whole body (Content-Length) is here, in case the server keeps the connection.
            if let answer = parse(data), answer.body.count >= Int(answer.headers["content-length"] ?? "") ?? Int.max { return answer }
        }
        guard let answer = parse(data) else { throw POSIXError(.EPROTO) }
        return answer
    }

    private static func parse(_ data: [UInt8]) -> Answer? {
        let sep: [UInt8] = Array("\r\n\r\n".utf8)
        guard let end = (0..<max(0, data.count - 3)).first(where: { Array(data[$0..<$0 + 4]) == sep }) else { return nil }
        let head = String(decoding: data[..<end], as: UTF8.self).components(separatedBy: "\r\n")
        guard let statusLine = head.first, statusLine.split(separator: " ").count >= 2,
              let status = Int(statusLine.split(separator: " ")[1]) else { return nil }
        var headers: [String: String] = [:]
        for line in head.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return Answer(status: status, headers: headers, body: Array(data[(end + 4)...]))
    }
}

/// The first of `names` found on PATH (promtool, prometheus).
func tool(_ name: String) -> String? {
    for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") where access("\(dir)/\(name)", X_OK) == 0 {
        return "\(dir)/\(name)"
    }
    return nil
}
