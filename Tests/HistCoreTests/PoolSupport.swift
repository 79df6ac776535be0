#if canImport(Glibc)
import Glibc
#endif
import CShim
import Foundation
import HistModel
import HistProc
import Logging
import Testing
import Synchronization
@testable import HistCore

/// Helpers for the pool tests: counting workers in /proc, sampling the live table over time.

/// Pids of this test process's direct children that are live (not zombies) and carry
/// `HISTD_POOL=<pool>` in their environment: the pool's worker processes as the kernel sees them.
func procWorkers(pool: String) -> [Int32] {
    guard let dir = opendir("/proc") else { return [] }
    defer { closedir(dir) }
    let me = getpid()
    let needle = Array("HISTD_POOL=\(pool)".utf8)
    var out: [Int32] = []
    while let e = readdir(dir) {
        let name = withUnsafeBytes(of: e.pointee.d_name) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
        guard let pid = Int32(name), let stat = ProcFS().stat(pid), stat.ppid == me, stat.state != "Z" else { continue }
        // A live process reads as an empty environ only in the middle of an exec (the file is
        // bound to the memory of the image it was opened on): read again.
        var bytes = [UInt8]()
        for attempt in 0..<20 where bytes.isEmpty {
            if attempt > 0 { usleep(500) }
            bytes = readEnviron(pid)
        }
        if bytes.split(separator: 0).contains(where: { Array($0) == needle }) { out.append(pid) }
    }
    return out
}

private func readEnviron(_ pid: Int32) -> [UInt8] {
    let fd = open("/proc/\(pid)/environ", O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return [] }
    defer { close(fd) }
    var bytes = [UInt8]()
    var buf = [UInt8](repeating: 0, count: 8192)
    while true {
        let n = read(fd, &buf, buf.count)
        if n <= 0 { break }
        bytes += buf[0..<n]
    }
    return bytes
}

/// Samples a pool's live table (and optionally /proc) every `every` on a plain thread until stopped.
final class PoolSampler: @unchecked Sendable {
    struct Sample {
        var table: Int
        var proc: Int?
        var tablePids: [Int32]
        var procPids: [Int32]
        var time = ContinuousClock.now
    }
    private let samples = Mutex<[Sample]>([])
    private let running = Atomic<Bool>(true)
    private let done = Atomic<Bool>(false)

    init(_ sup: Supervisor, pool: String, every: Duration = .milliseconds(20), withProc: Bool = true) {
        let thread = Thread { [self] in
            while running.load(ordering: .relaxed) {
                let table = sup.liveWorkers(pool: pool).map(\.identity.pid)
                // One pass over /proc is not a snapshot: it walks pids in ascending order, so a
                // replacement that got a lower pid (pid_max wrapped) while its predecessor at a
                // higher pid exited mid-walk is missed. Two passes back to back: the larger.
                var proc = withProc ? procWorkers(pool: pool) : []
                if withProc {
                    let again = procWorkers(pool: pool)
                    if again.count > proc.count { proc = again }
                }
                samples.withLock {
                    $0.append(Sample(table: table.count, proc: withProc ? proc.count : nil, tablePids: table, procPids: proc))
                }
                usleep(UInt32(every.milliseconds * 1000))
            }
            done.store(true, ordering: .relaxed)
        }
        thread.start()
    }

    /// Samples taken at or after `time` so far.
    func count(since time: ContinuousClock.Instant) -> Int {
        samples.withLock { $0.filter { $0.time >= time }.count }
    }

    /// Stops sampling and returns what was seen.
    func stop() -> [Sample] {
        running.store(false, ordering: .relaxed)
        while !done.load(ordering: .relaxed) { usleep(1000) }
        return samples.withLock { $0 }
    }
}

extension HistEvent {
    var recycledReason: String? { if case .recycled(_, let r) = payload { r.rawValue } else { nil } }
    var recycledInstance: InstanceInfo? { if case .recycled(let i, _) = payload { i } else { nil } }
    var scaled: (up: Bool, signal: Double, from: Int, to: Int)? {
        if case .scaled(let up, let s, let f, let t) = payload { (up, s, f, t) } else { nil }
    }
    var stopReason: String? { if case .stopRequested(_, let r, _) = payload { r.rawValue } else { nil } }
    var stopInstance: InstanceInfo? { if case .stopRequested(let i, _, _) = payload { i } else { nil } }
}

/// Polls until `predicate` holds or `timeout` passes.
@discardableResult
func eventually(_ timeout: Duration = .seconds(10), _ predicate: () -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if predicate() { return true }
        try? await Task.sleep(for: .milliseconds(10))
    }
    return predicate()
}

/// Pool knobs of `withPoolSupervisor` (defaults: random jitter, autoscalers on).
struct PoolTestOptions {
    var ageJitterSeed: UInt64? = nil
    var autoscale = true
}

/// `withSupervisor` (Harness.swift) for pools.
func withPoolSupervisor(_ programs: [ProgramSpec], pools: [PoolSpec], dir: TempDir, options: PoolTestOptions = .init(),
                        _ body: (Supervisor, CollectingSink) async throws -> Void) async throws {
    try await withSupervisor(programs, pools: pools, dir: dir, options: options, body)
}
