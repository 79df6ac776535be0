import Foundation
import GRDB
import HistModel
import Testing
@testable import HistStore

@Suite struct WriterRoundTripTests {
    struct EventRow: Equatable {
        var ts: Int64, kind: String, program: String?, instanceID: Int64?, value: Int64?, detail: String?
    }

    func events(_ r: DatabaseQueue) throws -> [EventRow] {
        try r.read { db in
            try Row.fetchAll(db, sql: """
                SELECT ts, kind, program, instance_id, value, detail FROM event_log
                WHERE kind NOT IN ('supervisor_start') ORDER BY id
                """).map { EventRow(ts: $0[0] - T0, kind: $0[1], program: $0[2], instanceID: $0[3], value: $0[4], detail: $0[5]) }
        }
    }

    @Test func everyPayloadKindRoundTrips() throws {
        let dir = TempDir()
        let (store, start) = try makeStore(dir, programs: ["web", "pool1"])
        let w = store.startWriter()
        let a = info(1, "web", pid: 300, ticks: 7000, at: 0)
        let b = info(2, "pool1", pid: 301, ticks: 7001, at: 5, worker: 2)
        let lost = info(3, "web", pid: 302, ticks: 7002, at: 20) // its start never reaches the writer
        let all: [HistEvent] = [
            HistEvent(time: ts(0), program: "web", payload: .started(a)),
            HistEvent(time: ts(5), program: "pool1", payload: .started(b)),
            ended(a, at: 1500, .signaled(signal: 11, coreDumped: true), .crash, tail: "segfault at 0\nquote \" done"),
            HistEvent(time: ts(1501), program: "web", payload: .restartScheduled(instance: a, delay: .milliseconds(2000), attempt: 3, workerIndex: nil)),
            HistEvent(time: ts(1502), program: "web", payload: .gaveUp(instance: a, restarts: 5, workerIndex: nil)),
            HistEvent(time: ts(1600), program: "pool1", payload: .stopRequested(instance: b, reason: .scaleDown, signal: 15)),
            HistEvent(time: ts(1700), program: "pool1", payload: .killed(instance: b, after: .milliseconds(10_000))),
            HistEvent(time: ts(1701), program: "pool1", payload: .limitBreach(instance: b, limit: .maxMemory,
                                                                           observed: 600_000_000, threshold: 524_288_000, action: .stop)),
            ended(b, at: 1702, .signaled(signal: 9, coreDumped: false), .killed),
            HistEvent(time: ts(1800), program: "web", payload: .spawnFailed(errno: 2, step: "execve", reason: "No such file", workerIndex: nil)),
            HistEvent(time: ts(1900), program: "pool1", payload: .scaled(up: true, signal: 85.5, from: 2, to: 3)),
            HistEvent(time: ts(1901), program: "pool1", payload: .scaled(up: false, signal: 10, from: 3, to: 2)),
            HistEvent(time: ts(1902), program: "pool1", payload: .recycled(instance: b, reason: .maxAge)),
            HistEvent(time: ts(1904), program: "web", payload: .leftover(Leftover(row: nil, identity: ProcessIdentity(pid: 998, startTicks: 124), action: .left, source: .marker))),
            HistEvent(time: ts(1905), program: "web", payload: .swept(SweptProcess(identity: ProcessIdentity(pid: 997, startTicks: 125), instance: nil, signal: 9, reason: .shutdown, gone: false))),
            ended(lost, at: 2000, .exited(code: 3), .crash, tail: "boom"),
        ]
        for e in all { w.record(e) }
        #expect(w.flush(timeout: .seconds(10)))
        #expect(w.stats.written == UInt64(all.count))
        #expect(w.stats.dropped == 0)
        let r = try reader(dir.file("h.db"))
        let rows = try events(r)
        let instA = try #require(try r.read { try Int64.fetchOne($0, sql: "SELECT id FROM instances WHERE pid = 300") })
        let instB = try #require(try r.read { try Int64.fetchOne($0, sql: "SELECT id FROM instances WHERE pid = 301") })
        let instLost = try #require(try r.read { try Int64.fetchOne($0, sql: "SELECT id FROM instances WHERE pid = 302") })
        let expected: [EventRow] = [
            .init(ts: 0, kind: "start", program: "web", instanceID: instA, value: nil, detail: nil),
            .init(ts: 5, kind: "start", program: "pool1", instanceID: instB, value: nil, detail: nil),
            .init(ts: 1500, kind: "crash", program: "web", instanceID: instA, value: 1500, detail: nil),
            .init(ts: 1501, kind: "restart_scheduled", program: "web", instanceID: instA, value: 2000, detail: #"{"attempt":3}"#),
            .init(ts: 1502, kind: "gave_up", program: "web", instanceID: instA, value: 5, detail: nil),
            .init(ts: 1600, kind: "stop_requested", program: "pool1", instanceID: instB, value: 15, detail: #"{"reason":"scale_down"}"#),
            .init(ts: 1700, kind: "killed", program: "pool1", instanceID: instB, value: 10_000, detail: nil),
            .init(ts: 1701, kind: "limit_breach", program: "pool1", instanceID: instB, value: 600_000_000,
                  detail: #"{"limit":"max_memory_mb","threshold":524288000,"action":"stop"}"#),
            .init(ts: 1702, kind: "exit", program: "pool1", instanceID: instB, value: 1697, detail: nil),
            .init(ts: 1800, kind: "spawn_failed", program: "web", instanceID: nil, value: 2, detail: #"{"step":"execve","reason":"No such file"}"#),
            .init(ts: 1900, kind: "scale_up", program: "pool1", instanceID: nil, value: 3, detail: #"{"from":2,"signal":85.5}"#),
            .init(ts: 1901, kind: "scale_down", program: "pool1", instanceID: nil, value: 2, detail: #"{"from":3,"signal":10.0}"#),
            .init(ts: 1902, kind: "recycled", program: "pool1", instanceID: instB, value: nil, detail: #"{"reason":"max_age"}"#),
            .init(ts: 1904, kind: "leftover", program: "web", instanceID: nil, value: 998, detail: #"{"start_ticks":124,"action":"left","source":"marker"}"#),
            .init(ts: 1905, kind: "swept", program: "web", instanceID: nil, value: 997, detail: #"{"start_ticks":125,"signal":9,"reason":"shutdown","gone":false}"#),
            .init(ts: 2000, kind: "crash", program: "web", instanceID: instLost, value: 1980, detail: nil),
        ]
        #expect(rows.count == expected.count)
        for (got, want) in zip(rows, expected) { #expect(got == want) }

        // Instance rows.
        let rowA = try #require(try r.read { try Row.fetchOne($0, sql: "SELECT * FROM instances WHERE id = ?", arguments: [instA]) })
        #expect(rowA["run_id"] as Int64 == start.runID)
        #expect(rowA["start_ticks"] as Int64 == 7000)
        #expect(rowA["ended_at"] as Int64 == T0 + 1500)
        #expect(rowA["exit_code"] as Int64? == nil)
        #expect(rowA["signal"] as Int64 == 11)
        #expect(rowA["core_dumped"] as Int64 == 1)
        #expect(rowA["class"] as String == "crash")
        #expect(rowA["uptime_ms"] as Int64 == 1500)
        #expect(rowA["stderr_tail"] as String == "segfault at 0\nquote \" done")
        let rowB = try #require(try r.read { try Row.fetchOne($0, sql: "SELECT * FROM instances WHERE id = ?", arguments: [instB]) })
        #expect(rowB["worker_index"] as Int64 == 2)
        #expect(rowB["class"] as String == "killed")
        #expect(rowB["stderr_tail"] as String? == nil)
        let rowLost = try #require(try r.read { try Row.fetchOne($0, sql: "SELECT * FROM instances WHERE id = ?", arguments: [instLost]) })
        #expect(rowLost["started_at"] as Int64 == T0 + 20)
        #expect(rowLost["exit_code"] as Int64 == 3)

        // The crashes view: exit code, signal name, uptime, restart delay, stderr tail.
        let crashes = try r.read { try Row.fetchAll($0, sql: "SELECT * FROM crashes WHERE ts >= ? ORDER BY ts", arguments: [T0]) }
        #expect(crashes.count == 2)
        #expect(crashes[0]["program"] as String == "web")
        #expect(crashes[0]["signal_name"] as String == "SIGSEGV")
        #expect(crashes[0]["uptime_s"] as Double == 1.5)
        #expect(crashes[0]["restart_delay_s"] as Double == 2.0)
        #expect(crashes[0]["time"] as String == "2026-01-01T00:00:01.500Z")
        #expect(crashes[1]["exit_code"] as Int64 == 3)
        #expect(crashes[1]["restart_delay_s"] as Double? == nil)
        let breach = try #require(try r.read { try Row.fetchOne($0, sql: "SELECT * FROM limit_breaches") })
        #expect(breach["limit_name"] as String == "max_memory_mb")
        #expect(breach["threshold"] as Int64 == 524_288_000)
        #expect(breach["pid"] as Int64 == 301)
        let scales = try r.read { try Row.fetchAll($0, sql: "SELECT direction, from_size, to_size FROM scale_events ORDER BY ts") }
        #expect(scales.map { $0[0] as String } == ["up", "down"])
        store.close()
    }

    @Test func snapshotSweepsWriteOneSweepRowAndRawCountersAndRatesAreDerived() throws {
        let dir = TempDir()
        let (store, _) = try makeStore(dir)
        let w = store.startWriter()
        let a = info(1, "web", pid: 300, ticks: 7000, at: 0)
        w.record(HistEvent(time: ts(0), program: "web", payload: .started(a)))
        func sample(_ utime: UInt64, _ stime: UInt64) -> InstanceSample {
            InstanceSample(instance: 1, state: "S", utimeTicks: utime, stimeTicks: stime, rssBytes: 10 * 1024 * 1024,
                           vszBytes: 100 * 1024 * 1024, threads: 4, fds: 12, processes: 2)
        }
        w.record(SnapshotSweep(time: ts(1000), samples: [sample(100, 50)]))
        w.record(SnapshotSweep(time: ts(2000), samples: [sample(150, 50),
                                                         InstanceSample(instance: 77, state: "R", utimeTicks: 0, stimeTicks: 0, rssBytes: 0,
                                                                        vszBytes: 0, threads: 1, fds: 1, processes: 1)]))
        w.record(SnapshotSweep(time: ts(4000), samples: [sample(150, 250)]))
        #expect(w.flush(timeout: .seconds(10)))
        #expect(w.stats.unmappedSamples == 1)
        let r = try reader(dir.file("h.db"))
        #expect(try count(r, "SELECT count(*) FROM sweeps") == 3)
        let rows = try r.read { try Row.fetchAll($0, sql: "SELECT * FROM snapshots_with_rates WHERE instance_id = 1 ORDER BY ts") }
        #expect(rows.count == 3)
        #expect(rows[0]["cpu_percent"] as Double? == nil)
        #expect(rows[1]["cpu_percent"] as Double == 50.0) // 50 ticks in 1 s = half a core
        #expect(rows[2]["cpu_percent"] as Double == 100.0) // 200 ticks in 2 s
        #expect(rows[0]["rss_kb"] as Int64 == 10240)
        #expect(rows[0]["vsz_kb"] as Int64 == 102_400)
        #expect(rows[0]["state"] as String == "S")
        #expect(rows[0]["program"] as String == "web")
        #expect(rows[0]["procs"] as Int64 == 2)
        store.close()
    }
}
