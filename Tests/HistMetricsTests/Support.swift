#if canImport(Glibc)
import Glibc
#endif
import Foundation
import HistCore
import HistModel
import Logging
import Synchronization
import HistTestSupport
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

/// One HTTP exchange with an in-process server. The client blocks, so it runs off the cooperative
/// pool; the server has its own thread, so an answer never waits for the pool either.
func askServer(_ body: @escaping @Sendable () throws -> LoopbackHTTP.Answer) async throws -> LoopbackHTTP.Answer {
    try await offPool(body)
}

/// The first of `names` found on PATH (promtool, prometheus).
func tool(_ name: String) -> String? {
    for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") where access("\(dir)/\(name)", X_OK) == 0 {
        return "\(dir)/\(name)"
    }
    return nil
}
