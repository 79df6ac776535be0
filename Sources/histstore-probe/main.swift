// Test helper for HistStoreTests' SIGKILL durability test: writes events continuously through a real
// HistoryWriter and prints, one per line, the highest events.id the writer reports committed. The test
// SIGKILLs it at a random moment and then checks that every printed id is in the database.
// Usage: histstore-probe DB_PATH
import Foundation
import HistModel
import HistStore

// Also: histstore-probe DB_PATH --bench N   (records N events as fast as possible, prints events/s)
let args = CommandLine.arguments
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
        writer.record(HistEvent(program: "p\(i % 200)", payload: .restartScheduled(delay: .seconds(1), attempt: i, workerIndex: nil)))
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
            writer.record(HistEvent(program: "probe", payload: .restartScheduled(delay: .milliseconds(10), attempt: 1, workerIndex: nil)))
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
