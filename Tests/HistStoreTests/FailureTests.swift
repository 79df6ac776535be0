import Foundation
import GRDB
import HistModel
import Testing
import TestThreads
@testable import HistStore

/// The core promise: a database that cannot be written never blocks `record`, and once writing works
/// again a `recording_gap` row says how much was lost.
@Suite(.serialized, .blocking) struct FailureTests {
    func crashEvent(_ n: Int) -> HistEvent {
        let i = info(InstanceID(1000 + n), "web", pid: Int32(1000 + n), ticks: UInt64(n), at: Int64(n))
        return ended(i, at: Int64(n) + 1, .exited(code: 1), .crash, tail: String(repeating: "x", count: 4000))
    }

    struct Gap { var value: Int64; var reason: String; var byKind: String; var from: Int64; var to: Int64 }

    func gaps(_ r: DatabaseQueue) throws -> [Gap] {
        try r.read { db in
            try Row.fetchAll(db, sql: "SELECT dropped, reason, dropped_by_kind, from_ms, to_ms FROM recording_gaps ORDER BY event_id").map {
                Gap(value: $0[0], reason: $0[1], byKind: $0[2], from: $0[3], to: $0[4])
            }
        }
    }

    /// Breaks the writer's connection with `breakSQL`, records 200 crash events, repairs it, and checks
    /// that nothing blocked and the loss is recorded exactly.
    func runFaultScenario(break breakSQL: String, repair repairSQL: String, expectReason: String) throws {
        let dir = TempDir()
        let (store, _) = try makeStore(dir)
        let w = store.startWriter(options: .init(retainLimit: 20, retryInitial: .milliseconds(5), retryMax: .milliseconds(50)))
        try store.withWriteConnection { try $0.execute(sql: breakSQL) }
        let started = Date()
        for n in 0..<200 { w.record(crashEvent(n)) }
        let recordTime = Date().timeIntervalSince(started)
        // If record waited for a write, 200 of them would take at least 200 retry steps of 5 ms.
        #expect(recordTime < 200 * 0.005, "record must not block on a broken database (took \(recordTime) s)")
        #expect(waitUntil { w.stats.dropped > 0 && w.stats.writeErrors > 0 })
        #expect(!w.flush(timeout: .milliseconds(100))) // still failing
        #expect(w.stats.lastError?.contains(expectReason) == true)
        try store.withWriteConnection { try $0.execute(sql: repairSQL) }
        #expect(w.flush(timeout: .seconds(20)))
        let st = w.stats
        let r = try reader(dir.file("h.db"))
        let written = try count(r, "SELECT count(*) FROM events WHERE kind = 3")
        #expect(st.dropped > 0)
        #expect(written + Int(st.dropped) == 200)
        #expect(written >= 20) // the retained batch survived
        let g = try gaps(r)
        #expect(g.count == 1)
        #expect(g.first?.value == Int64(st.dropped))
        #expect(g.first?.reason.contains(expectReason) == true)
        #expect(g.first?.byKind == "{\"crash\":\(st.dropped)}")
        #expect(st.gaps == 1)
        #expect(try r.read { try String.fetchOne($0, sql: "PRAGMA integrity_check") } == "ok")
        store.close()
    }

    @Test func diskFullDoesNotBlockRecordAndRecordsAGap() throws {
        try runFaultScenario(break: "PRAGMA max_page_count = 1", repair: "PRAGMA max_page_count = 1073741823",
                             expectReason: "disk_full")
    }

    @Test func readOnlyDatabaseDoesNotBlockRecordAndRecordsAGap() throws {
        // As root, chmod 0444 does not stop writes, so the writer's connection is made read-only instead.
        try runFaultScenario(break: "PRAGMA query_only = 1", repair: "PRAGMA query_only = 0", expectReason: "read_only")
    }

    @Test func fullQueueDropsCountsAndRecordsAGap() throws {
        let dir = TempDir()
        let (store, _) = try makeStore(dir)
        let w = store.startWriter(options: .init(capacity: 10))
        // Another connection holds the write lock (like a long `histctl prune`): the writer thread waits in
        // busy_timeout while the engine keeps recording.
        var config = Configuration()
        config.allowsUnsafeTransactions = true // keep BEGIN IMMEDIATE open across inDatabase calls
        let other = try DatabaseQueue(path: dir.file("h.db"), configuration: config)
        try other.inDatabase { try $0.execute(sql: "BEGIN IMMEDIATE") }
        let started = Date()
        for n in 0..<100 {
            w.record(HistEvent(time: ts(Int64(n)), program: "web", payload: .restartScheduled(instance: nil, delay: .seconds(1), attempt: n, workerIndex: nil)))
        }
        // The writer sits in busy_timeout (HistoryDatabase.busyTimeout) behind the other connection's lock:
        // had record waited for it, the 100 records could not have returned before that timeout.
        #expect(Date().timeIntervalSince(started) < HistoryDatabase.busyTimeout)
        let dropped = w.stats.dropped
        #expect(dropped >= 80)
        #expect(w.stats.droppedByKind["restart_scheduled"] == Int(dropped))
        try other.inDatabase { try $0.execute(sql: "COMMIT") }
        try other.close()
        #expect(w.flush(timeout: .seconds(20)))
        let r = try reader(dir.file("h.db"))
        #expect(try count(r, "SELECT count(*) FROM events WHERE kind = 4") + Int(dropped) == 100)
        let g = try gaps(r)
        #expect(g.count == 1)
        #expect(g.first?.value == Int64(dropped))
        #expect(g.first?.reason == "queue_full")
        #expect(g.first?.byKind == "{\"restart_scheduled\":\(dropped)}")
        // The span covers the dropped items' own times.
        #expect(g.first.map { $0.from >= T0 && $0.to <= T0 + 99 && $0.from <= $0.to } == true)
        store.close()
    }

    @Test func rejectedRowsAreDroppedOneByOneAndTheRestIsWritten() throws {
        let dir = TempDir()
        let (store, _) = try makeStore(dir)
        let w = store.startWriter()
        // A deterministic failure for one kind only: a trigger refusing gave_up rows.
        try store.withWriteConnection {
            try $0.execute(sql: "CREATE TEMP TRIGGER refuse BEFORE INSERT ON events WHEN NEW.kind = 5 BEGIN SELECT RAISE(ABORT, 'refused'); END")
        }
        for n in 0..<10 {
            w.record(HistEvent(time: ts(Int64(n)), program: "web", payload: n == 4 ? .gaveUp(instance: nil, restarts: 1, workerIndex: nil)
                                                                             : .restartScheduled(instance: nil, delay: .seconds(1), attempt: n, workerIndex: nil)))
        }
        #expect(waitUntil { w.stats.dropped == 1 })
        try store.withWriteConnection { try $0.execute(sql: "DROP TRIGGER temp.refuse") }
        w.record(HistEvent(time: ts(100), program: "web", payload: .gaveUp(instance: nil, restarts: 1, workerIndex: nil)))
        #expect(w.flush(timeout: .seconds(10)))
        let r = try reader(dir.file("h.db"))
        #expect(try count(r, "SELECT count(*) FROM events WHERE kind = 4") == 9)
        let g = try gaps(r)
        #expect(g.count == 1 && g.first?.value == 1 && g.first?.reason == "rejected")
        store.close()
    }
}
