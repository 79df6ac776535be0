// Test helper for HistStoreTests' SIGKILL durability test: writes events continuously through a real
// HistoryWriter and prints, one per line, the highest events.id the writer reports committed. The test
// SIGKILLs it at a random moment and then checks that every printed id is in the database.
// Usage: histstore-probe DB_PATH
import Foundation
import HistModel
import HistStore

guard CommandLine.arguments.count == 2 else {
    FileHandle.standardError.write(Data("usage: histstore-probe DB_PATH\n".utf8))
    exit(2)
}
let path = CommandLine.arguments[1]
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
