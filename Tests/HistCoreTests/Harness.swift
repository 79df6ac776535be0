#if canImport(Glibc)
import Glibc
#endif
import CShim
import HistModel
import HistProc
import HistTestSupport
import Logging
import Synchronization
import Testing
@testable import HistCore

/// A sink that keeps every event, for assertions.
final class CollectingSink: HistorySink {
    private let store = Mutex<[HistEvent]>([])
    func record(_ event: HistEvent) { store.withLock { $0.append(event) } }
    func record(_ sweep: SnapshotSweep) {}
    func record(_ scan: ScanReport) {}

    var events: [HistEvent] { store.withLock { $0 } }
    func events(_ program: String) -> [HistEvent] { events.filter { $0.program == program } }

    /// Polls (the test's side only) until `predicate` holds on the events, or `timeout` passes.
    @discardableResult
    func waitFor(_ timeout: Duration = .seconds(10), _ predicate: ([HistEvent]) -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if predicate(events) { return true }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return predicate(events)
    }
}

extension HistEvent {
    var started: InstanceInfo? { if case .started(let i) = payload { i } else { nil } }
    var ended: InstanceEnd? { if case .ended(let e) = payload { e } else { nil } }
    var restart: (delay: Duration, attempt: Int)? {
        if case .restartScheduled(_, let d, let a, _) = payload { (d, a) } else { nil }
    }
    var isGaveUp: Bool { if case .gaveUp = payload { true } else { false } }
    var isSpawnFailed: Bool { if case .spawnFailed = payload { true } else { false } }
    var isStopRequested: Bool { if case .stopRequested = payload { true } else { false } }
    var isKilled: Bool { if case .killed = payload { true } else { false } }
    var swept: SweptProcess? { if case .swept(let s) = payload { s } else { nil } }
}

/// A temporary folder with shell scripts; removed at the end.
struct TempDir {
    let path: String
    init() {
        var template = Array("/tmp/histcore-test-XXXXXX".utf8CString)
        path = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
    }
    func remove() { _ = system_rm(path) }

    /// Writes an executable `/bin/sh` script and returns its path.
    func script(_ name: String, _ body: String) -> String {
        let file = "\(path)/\(name).sh"
        write(file, "#!/bin/sh\n" + body + "\n")
        chmod(file, 0o755)
        return file
    }

    func write(_ file: String, _ text: String) {
        // O_CLOEXEC: a child forked meanwhile by another test must not hold the script open for writing (execve: ETXTBSY).
        let fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        _ = text.withCString { Glibc.write(fd, $0, strlen($0)) }
        close(fd)
    }

    func read(_ file: String) -> String? {
        let fd = open(file, O_RDONLY)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var out = [UInt8]()
        var buf = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = Glibc.read(fd, &buf, buf.count)
            if n <= 0 { break }
            out += buf[0..<n]
        }
        return String(decoding: out, as: UTF8.self)
    }

    func size(_ file: String) -> Int? {
        var st = stat()
        return stat(file, &st) == 0 ? Int(st.st_size) : nil
    }
}

/// Removes a folder tree without spawning anything (no Process in this target: it would reap).
private func system_rm(_ path: String) -> Int32 {
    guard let dir = opendir(path) else { return unlink(path) }
    while let e = readdir(dir) {
        let name = withUnsafeBytes(of: e.pointee.d_name) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
        if name == "." || name == ".." { continue }
        let child = "\(path)/\(name)"
        if e.pointee.d_type == UInt8(DT_DIR) { _ = system_rm(child) } else { unlink(child) }
    }
    closedir(dir)
    return rmdir(path)
}

/// True if `pid` is a live (non-zombie) process.
func isAlive(_ pid: Int32) -> Bool {
    guard let stat = ProcFS().stat(pid) else { return false }
    return stat.state != "Z"
}

/// True if the process that had `pid` with start time `ticks` is still alive (not a zombie, and the
/// pid not reused by another process since).
func isAlive(_ pid: Int32, ticks: UInt64) -> Bool { PinnedProcess(pid: pid, ticks: ticks).isAlive }

func program(_ name: String, _ script: String, restart: RestartPolicy = .onFailure, delay: Duration = .milliseconds(100),
             factor: Double = 2, maxRestarts: Int = 0, resetAfter: Duration = .seconds(60), stopTimeout: Duration = .seconds(3),
             stopOrder: Int = 0, logMaxBytes: Int = 1 << 20, logKeep: Int = 2, autostart: Bool = true) -> ProgramSpec {
    ProgramSpec(name: name, command: [script], autostart: autostart, restart: restart,
                backoff: BackoffPolicy(restartDelay: delay, backoffFactor: factor, maxBackoff: .seconds(30),
                                       maxRestarts: maxRestarts, resetAfter: resetAfter),
                stopTimeout: stopTimeout, stopOrder: stopOrder, logMaxBytes: logMaxBytes, logKeep: logKeep)
}

/// Runs a supervisor in this process around `body`, then shuts it down and kills (by pid and
/// start time) anything it started that is still alive, even when `body` fails. `options` tunes
/// pools (jitter seed, autoscaling) for the pool suites.
func withSupervisor(_ programs: [ProgramSpec], pools: [PoolSpec] = [], dir: TempDir, shutdownTimeout: Duration = .seconds(10),
                    options: PoolTestOptions = .init(), resources: any ProgramResources = NoProgramResources(),
                    _ body: (Supervisor, CollectingSink) async throws -> Void) async throws {
    let sink = CollectingSink()
    var logger = Logger(label: "histd.test")
    logger.logLevel = getenv("HISTD_TEST_LOG") != nil ? .info : .warning
    let spec = SupervisorSpec(logDir: dir.path + "/logs", shutdownTimeout: shutdownTimeout)
    let supervisor = try Supervisor(programs: programs, pools: pools, supervisor: spec, sink: sink, logger: logger,
                                    resources: resources, options: SupervisorOptions(reapScope: .supervisedOnly, handleSignals: false,
                                                               descendantGrace: .milliseconds(500),
                                                               ageJitterSeed: options.ageJitterSeed,
                                                               autoscale: options.autoscale))
    try supervisor.start()
    var failure: (any Error)?
    do { try await body(supervisor, sink) } catch { failure = error }
    supervisor.post(.shutdown)
    let deadline = ContinuousClock.now + .seconds(30)
    while !supervisor.isFinished && ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(10)) }
    #expect(supervisor.isFinished, "engine did not finish shutting down")
    for event in sink.events {
        if let info = event.started, histd_proc_start_ticks(info.identity.pid) == info.identity.startTicks {
            _ = kill(info.identity.pid, SIGKILL)
        }
    }
    if let failure { throw failure }
}
