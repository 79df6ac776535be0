import Foundation
import GRDB
import HistModel
import Testing
@testable import HistStore

/// Measures bytes per event row and per snapshot row on 200k generated rows each (issue 7's size targets:
/// <= 60 B per event, <= 40 B per snapshot row). Prints the numbers; asserts only that the rows are there.
@Suite(.serialized) struct SizeMeasurementTests {
    func bytes(_ db: DatabaseQueue, _ names: [String]) throws -> Int? {
        try db.read { db in
            guard (try? Row.fetchOne(db, sql: "SELECT 1 FROM dbstat LIMIT 1")) != nil else { return nil }
            let list = names.map { "'\($0)'" }.joined(separator: ",")
            return try Int.fetchOne(db, sql: "SELECT sum(pgsize) FROM dbstat WHERE name IN (\(list))")
        }
    }

    @Test func bytesPerEventAndSnapshotRow() throws {
        let dir = TempDir()
        let (store, _) = try makeStore(dir, programs: (0..<200).map { "prog\($0)" })
        let w = store.startWriter()
        let n = 200_000
        let started = Date()
        // A restart storm across 200 programs: start, crash, restart_scheduled per cycle (the common rows).
        var id: InstanceID = 0
        var t: Int64 = 0
        while id * 3 < n {
            id += 1
            t += 137
            let p = "prog\(id % 200)"
            let i = info(id, p, pid: Int32(10_000 + id % 30_000), ticks: UInt64(1_000_000 + id), at: t)
            w.record(HistEvent(time: ts(t), program: p, payload: .started(i)))
            w.record(ended(i, at: t + 50, .exited(code: 1), .crash))
            w.record(HistEvent(time: ts(t + 51), program: p, payload: .restartScheduled(instance: nil, delay: .seconds(1), attempt: 1, workerIndex: nil)))
            if id % 10_000 == 0 { #expect(w.flush(timeout: .seconds(120))) } // measure size, not the queue bound
        }
        #expect(w.flush(timeout: .seconds(120)))
        let eventSeconds = Date().timeIntervalSince(started)
        // 200 live instances sampled in 1,000 sweeps = 200k snapshot rows.
        let live = (0..<200).map { k -> InstanceInfo in
            info(InstanceID(1_000_000 + k), "prog\(k)", pid: Int32(50_000 + k), ticks: UInt64(k), at: t)
        }
        for i in live { w.record(HistEvent(time: i.startedAt, program: i.program, payload: .started(i))) }
        let snapStarted = Date()
        for s in 0..<1000 {
            let samples = live.enumerated().map { k, i in
                InstanceSample(instance: i.id, state: "S", utimeTicks: UInt64(s * (k % 7)), stimeTicks: UInt64(s * (k % 3)),
                               rssBytes: UInt64(20_000_000 + k * 4096 + s), vszBytes: UInt64(300_000_000 + k * 8192),
                               threads: Int32(4 + k % 8), fds: Int32(10 + k % 20), processes: 1)
            }
            w.record(SnapshotSweep(time: ts(t + Int64(s) * 1000), samples: samples))
            if s % 100 == 99 { #expect(w.flush(timeout: .seconds(120))) }
        }
        #expect(w.stats.dropped == 0)
        #expect(w.flush(timeout: .seconds(120)))
        let snapSeconds = Date().timeIntervalSince(snapStarted)
        store.close()
        let r = try reader(dir.file("h.db"))
        let events = try count(r, "SELECT count(*) FROM events")
        let snapshots = try count(r, "SELECT count(*) FROM snapshots")
        #expect(events >= n)
        #expect(snapshots == 200_000)
        if let ev = try bytes(r, ["events", "events_kind_ts"]),
           let inst = try bytes(r, ["instances", "instances_program_started", "instances_pid", "instances_open", "instances_ended", "instances_crashes"]),
           let sn = try bytes(r, ["snapshots"]),
           let sw = try bytes(r, ["sweeps", "sweeps_ts"]) {
            print("""
                SIZE events: \(events) rows, \(ev) B with indexes = \(String(format: "%.1f", Double(ev) / Double(events))) B/event \
                (+ instances \(String(format: "%.1f", Double(inst) / Double(events))) B/event)
                SIZE snapshots: \(snapshots) rows, \(sn) B with index = \(String(format: "%.1f", Double(sn) / Double(snapshots))) B/row \
                (+ sweeps \(String(format: "%.2f", Double(sw) / Double(snapshots))) B/row)
                RATE (debug build, whole writer path): \(Int(Double(events) / eventSeconds)) events/s, \
                \(Int(Double(snapshots) / snapSeconds)) snapshot rows/s
                """)
        } else {
            let size = (try FileManager.default.attributesOfItem(atPath: dir.file("h.db"))[.size] as? Int) ?? 0
            print("SIZE (no dbstat): file \(size) B for \(events) events + \(snapshots) snapshots")
        }
    }
}
