import Foundation
import HistModel
import HistStore
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Measures the real writer path (`HistoryWriter.record` -> queue -> writer thread -> SQLite in WAL mode)
/// for `histstore-probe --bench/--latency` and `histbench record`. Not used by histd itself.
///
/// Both measurements create a fresh history database at `path` (which must not exist yet: a benchmark
/// never writes into someone's history), begin a run, and start a writer with the given options, exactly
/// as `histd run` does.
public enum WriterBenchmark {
    /// What the producer records.
    public enum Workload: String, Sendable, CaseIterable {
        /// `restart_scheduled` events only (an events row with a small JSON detail): the events table's
        /// own speed.
        case restart
        /// Crash loops: `start` (inserts an instances row), `crash` (updates it, with a stderr tail) and
        /// `restart_scheduled`, in turn: what a restart storm writes.
        case lifecycle
    }

    public struct Throughput: Sendable {
        /// Events committed in each whole second of the run.
        public var perSecond: [Double]
        /// Events committed during the run (after its last second, the queue is flushed but not counted).
        public var events: UInt64
        public var seconds: Double
        /// `events / seconds`.
        public var rate: Double
        public var dropped: UInt64
        /// Transactions committed during the run.
        public var batches: UInt64
        /// CPU seconds of the whole process, and of the producing thread alone, during the run: their
        /// difference is (almost all) the writer thread's, which is steadier than wall-clock rates on a
        /// busy machine.
        public var processCPU: Double
        public var producerCPU: Double
        public var median: Double { WriterBenchmark.median(perSecond) }
        /// Events per CPU second of everything but the producer (i.e. the writer).
        public var eventsPerWriterCPUSecond: Double {
            let w = processCPU - producerCPU
            return w > 0 ? Double(events) / w : 0
        }
    }

    public struct Latency: Sendable {
        public var events: Int
        /// Event-to-commit latency in milliseconds: from `record` to the end of the commit that wrote it.
        public var p50: Double
        public var p99: Double
        public var max: Double
        public var dropped: UInt64
        public var batches: UInt64
    }

    /// Records as fast as the writer takes events for `seconds` (the producer pauses while the queue is
    /// over half full, so nothing is dropped), and counts what was committed each second.
    public static func throughput(path: String, seconds: Int = 10, workload: Workload = .restart,
                                  options: HistoryWriter.Options = .init()) throws -> Throughput {
        let (store, writer) = try start(path: path, options: options)
        defer { store.close(timeout: .seconds(300)) }
        var gen = Generator(workload: workload)
        let high = max(1, options.capacity / 2), low = max(1, options.capacity / 4)
        let t0 = MonotonicInstant.now()
        let cpu0 = cpuTime(CLOCK_PROCESS_CPUTIME_ID), producer0 = cpuTime(CLOCK_THREAD_CPUTIME_ID)
        let base = writer.stats
        var marks: [UInt64] = [base.written]
        var nextMark = t0.adding(.seconds(1))
        // Marks the whole seconds; true once `seconds` have passed.
        func tick() -> Bool {
            guard MonotonicInstant.now() >= nextMark else { return false }
            marks.append(writer.stats.written)
            nextMark = nextMark.adding(.seconds(1))
            return marks.count > seconds
        }
        run: while true {
            for _ in 0..<256 { writer.record(gen.next()) }
            if tick() { break run }
            // Deep queue: let the writer catch up (never drop), still marking the seconds.
            if writer.stats.queued >= high {
                while writer.stats.queued > low {
                    usleep(100)
                    if tick() { break run }
                }
            }
        }
        let cpu1 = cpuTime(CLOCK_PROCESS_CPUTIME_ID), producer1 = cpuTime(CLOCK_THREAD_CPUTIME_ID)
        let end = writer.stats
        writer.flush(timeout: .seconds(300))
        let perSecond = zip(marks.dropFirst(), marks).map { Double($0 - $1) }
        let events = marks.last! - marks.first!
        let secs = Double(seconds)
        return Throughput(perSecond: perSecond, events: events, seconds: secs, rate: Double(events) / secs,
                          dropped: end.dropped - base.dropped, batches: end.batches - base.batches,
                          processCPU: cpu1 - cpu0, producerCPU: producer1 - producer0)
    }

    /// Records `rate` events per second, evenly spaced, for `seconds`, and measures each event's
    /// event-to-commit latency.
    public static func latency(path: String, rate: Int = 1000, seconds: Int = 10, workload: Workload = .restart,
                               options: HistoryWriter.Options = .init()) throws -> Latency {
        let commits = Mutex<[(written: UInt64, at: UInt64)]>([])
        let (store, writer) = try start(path: path, options: options) { written in
            let now = MonotonicInstant.now().nanoseconds
            commits.withLock { $0.append((written, now)) }
        }
        defer { store.close(timeout: .seconds(60)) }
        let first = writer.stats.written
        var gen = Generator(workload: workload)
        let n = max(1, rate * seconds)
        var sent = [UInt64](repeating: 0, count: n)
        let interval = 1_000_000_000 / UInt64(max(1, rate))
        let t0 = MonotonicInstant.now().nanoseconds
        for i in 0..<n {
            let due = t0 + UInt64(i) * interval
            var now = MonotonicInstant.now().nanoseconds
            if due > now {
                var ts = timespec(tv_sec: Int(due / 1_000_000_000), tv_nsec: Int(due % 1_000_000_000))
                while clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nil) == EINTR {}
                now = MonotonicInstant.now().nanoseconds
            }
            let event = gen.next()
            sent[i] = MonotonicInstant.now().nanoseconds
            writer.record(event)
        }
        writer.flush(timeout: .seconds(60))
        let stats = writer.stats
        let log = commits.withLock { $0 }
        // Event i (0-based) is committed by the first commit after which more than i bench items are written.
        var lat: [Double] = []
        lat.reserveCapacity(n)
        var c = 0
        for i in 0..<n {
            while c < log.count && log[c].written - first <= UInt64(i) { c += 1 }
            guard c < log.count else { break }
            lat.append(Double(log[c].at &- sent[i]) / 1e6)
        }
        lat.sort()
        func pct(_ p: Double) -> Double { lat.isEmpty ? .nan : lat[min(lat.count - 1, Int(Double(lat.count) * p))] }
        return Latency(events: lat.count, p50: pct(0.50), p99: pct(0.99), max: lat.last ?? .nan,
                       dropped: stats.dropped, batches: stats.batches)
    }

    // MARK: - Parts

    static func start(path: String, options: HistoryWriter.Options,
                      onCommit: (@Sendable (UInt64) -> Void)? = nil) throws -> (HistoryStore, HistoryWriter) {
        if FileManager.default.fileExists(atPath: path) {
            throw HistoryStoreError(.cannotOpen, path: path, "exists: a benchmark writes only into a new database")
        }
        let store = try HistoryStore.open(path: path)
        _ = try store.beginRun(host: "bench", pid: getpid(), version: "bench", configPath: nil, configHash: nil,
                               bootID: nil, programs: [], pools: [])
        return (store, store.startWriter(options: options, onCommit: onCommit))
    }

    /// Events like the engine's: program names are existing strings (not formatted per event).
    struct Generator {
        let workload: Workload
        let names: [String] = (0..<200).map { "bench-program-\($0)" }
        var n: UInt64 = 0
        var phase = 0
        var current: InstanceInfo?

        init(workload: Workload) { self.workload = workload }

        mutating func next() -> HistEvent {
            n += 1
            let name = names[Int(n % 200)]
            switch workload {
            case .restart:
                return HistEvent(program: name, payload: .restartScheduled(instance: nil, delay: .milliseconds(100), attempt: Int(n % 5) + 1,
                                                                           workerIndex: nil))
            case .lifecycle:
                phase = (phase + 1) % 3
                switch phase {
                case 1:
                    let info = InstanceInfo(id: n, program: name, identity: ProcessIdentity(pid: Int32(n % 4_000_000) + 2,
                                                                                            startTicks: n),
                                            startedAt: .now())
                    current = info
                    return HistEvent(program: name, payload: .started(info))
                case 2:
                    let info = current!
                    return HistEvent(program: info.program, payload: .ended(InstanceEnd(
                        instance: info, endedAt: .now(), status: .exited(code: 1), classification: .crash,
                        uptime: .milliseconds(3), stderrTail: "Traceback (most recent call last): boom")))
                default:
                    return HistEvent(program: current!.program, payload: .restartScheduled(instance: current, delay: .zero, attempt: 1,
                                                                                            workerIndex: nil))
                }
            }
        }
    }

    /// CPU seconds of the process or of the calling thread.
    static func cpuTime(_ clock: clockid_t) -> Double {
        var ts = timespec()
        clock_gettime(clock, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    static func median(_ xs: [Double]) -> Double {
        guard !xs.isEmpty else { return .nan }
        let s = xs.sorted()
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }
}
