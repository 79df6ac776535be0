// Test helper for HistStoreTests' SIGKILL durability test: writes events continuously through a real
// HistoryWriter and prints, one per line, the highest events.id the writer reports committed. The test
// SIGKILLs it at a random moment and then checks that every printed id is in the database.
// Usage: histstore-probe DB_PATH
import Foundation
import HistModel
import HistTestSupport
import HistStore

// Also: histstore-probe DB_PATH --bench N   (records N events as fast as possible, prints events/s)
// Benchmarks of the writer path (WriterBenchmark; each run in a new database under --dir, removed after):
//   histstore-probe --bench   [--seconds 10] [--runs 1] [--workload restart|lifecycle] [--batch 1000]
//                             [--max-batch 8000] [--dir /tmp]
//   histstore-probe --latency [--rate 1000] [--seconds 10] [--runs 1] [--workload ...] [--dir /tmp]
let args = CommandLine.arguments
if args.count >= 2, args[1] == "--bench" || args[1] == "--latency" {
    exit(runBenchmark(Array(args.dropFirst())))
}
guard args.count == 2 || (args.count == 4 && args[2] == "--bench" && Int(args[3]) != nil) else {
    FileHandle.standardError.write(Data("usage: histstore-probe DB_PATH [--bench N]\n".utf8))
    exit(2)
}
let path = args[1]
if args.count == 4 {
    let n = Int(args[3])!
    let store = try HistoryStore.open(path: path)
    _ = try store.beginRun(host: "bench", pid: getpid(), version: "bench", configPath: nil, configHash: nil,
                           bootID: nil, programs: [], pools: [])
    let writer = store.startWriter()
    let t0 = MonotonicInstant.now()
    var i = 0
    while i < n {
        writer.record(HistEvent(program: "p\(i % 200)", payload: .restartScheduled(instance: nil, delay: .seconds(1), attempt: i, workerIndex: nil)))
        i += 1
        if i % 50_000 == 0 { while writer.stats.queued > 50_000 { usleep(200) } } // stay under the queue bound
    }
    _ = writer.flush(timeout: .seconds(300))
    let secs = MonotonicInstant.now().since(t0).seconds
    let st = writer.stats
    print("events=\(st.written) dropped=\(st.dropped) batches=\(st.batches) seconds=\(secs) rate=\(Int(Double(st.written) / secs))/s")
    exit(0)
}
do {
    let store = try HistoryStore.open(path: path)
    _ = try store.beginRun(host: "probe", pid: getpid(), version: "probe", configPath: nil, configHash: nil,
                           bootID: nil, programs: [], pools: [])
    let writer = store.startWriter(options: .init(batchSize: 100))
    var last: Int64 = 0
    var n: UInt64 = 0
    while true {
        for _ in 0..<20 {
            n += 1
            let info = InstanceInfo(id: n, program: "probe", identity: ProcessIdentity(pid: Int32(n % 30000) + 2, startTicks: n),
                                    startedAt: .now())
            writer.record(HistEvent(program: "probe", payload: .started(info)))
            writer.record(HistEvent(program: "probe", payload: .ended(InstanceEnd(
                instance: info, endedAt: .now(), status: .exited(code: 1), classification: .crash,
                uptime: .milliseconds(1), stderrTail: "probe \(n)"))))
            writer.record(HistEvent(program: "probe", payload: .restartScheduled(instance: nil, delay: .milliseconds(10), attempt: 1, workerIndex: nil)))
        }
        let id = writer.stats.lastCommittedEventID
        if id != last {
            FileHandle.standardOutput.write(Data("\(id)\n".utf8)) // unbuffered: the test must see it before SIGKILL
            last = id
        }
        usleep(2000)
    }
} catch {
    FileHandle.standardError.write(Data("histstore-probe: \(error)\n".utf8))
    exit(1)
}

func runBenchmark(_ args: [String]) -> Int32 {
    var opts: [String: String] = [:]
    var i = 1
    while i < args.count {
        guard args[i].hasPrefix("--"), i + 1 < args.count else {
            FileHandle.standardError.write(Data("histstore-probe: bad argument \(args[i])\n".utf8))
            return 2
        }
        opts[String(args[i].dropFirst(2))] = args[i + 1]
        i += 2
    }
    let seconds = Int(opts["seconds"] ?? "10") ?? 10
    let runs = Int(opts["runs"] ?? "1") ?? 1
    guard let workload = WriterBenchmark.Workload(rawValue: opts["workload"] ?? "restart") else {
        FileHandle.standardError.write(Data("histstore-probe: --workload is restart or lifecycle\n".utf8))
        return 2
    }
    var options = HistoryWriter.Options()
    if let b = opts["batch"].flatMap(Int.init) { options.batchSize = b }
    if let b = opts["max-batch"].flatMap(Int.init) { options.maxBatchSize = b }
    let dir = opts["dir"] ?? NSTemporaryDirectory()
    func fresh(_ k: Int) -> String { "\(dir)/histstore-bench-\(getpid())-\(k).db" }
    func remove(_ path: String) { for s in ["", "-wal", "-shm"] { unlink(path + s) } }
    func f(_ x: Double) -> String { String(format: "%.0f", x) }
    do {
        if args[0] == "--bench" {
            var medians: [Double] = [], perCPU: [Double] = []
            for k in 0..<runs {
                let path = fresh(k)
                defer { remove(path) }
                let r = try WriterBenchmark.throughput(path: path, seconds: seconds, workload: workload, options: options)
                medians.append(r.median)
                perCPU.append(r.eventsPerWriterCPUSecond)
                print("run \(k + 1): median \(f(r.median))/s (min \(f(r.perSecond.min() ?? 0)), max \(f(r.perSecond.max() ?? 0))), "
                      + "overall \(f(r.rate))/s, events \(r.events), dropped \(r.dropped), batches \(r.batches), "
                      + "writer-CPU \(String(format: "%.2f", r.processCPU - r.producerCPU)) s = \(f(r.eventsPerWriterCPUSecond)) events/CPU-s; "
                      + "per second: \(r.perSecond.map(f).joined(separator: " "))")
            }
            let s = medians.sorted(), c = perCPU.sorted()
            print("bench \(workload.rawValue): median of \(runs) run medians \(f(s[s.count / 2]))/s "
                  + "(min \(f(s.first!)), max \(f(s.last!))); events per writer CPU-second: median \(f(c[c.count / 2]))")
        } else {
            let rate = Int(opts["rate"] ?? "1000") ?? 1000
            for k in 0..<runs {
                let path = fresh(k)
                defer { remove(path) }
                let r = try WriterBenchmark.latency(path: path, rate: rate, seconds: seconds, workload: workload, options: options)
                print(String(format: "latency \(workload.rawValue) at \(rate)/s: p50 %.3f ms, p99 %.3f ms, max %.3f ms "
                             + "(\(r.events) events, \(r.batches) commits, dropped \(r.dropped))", r.p50, r.p99, r.max))
            }
        }
    } catch {
        FileHandle.standardError.write(Data("histstore-probe: \(error)\n".utf8))
        return 1
    }
    return 0
}
