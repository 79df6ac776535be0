import Foundation
import GRDB
import HistModel
import HistTestSupport
import Testing
@testable import HistStore

/// The writer's fast path: multi-row event inserts, the byte JSON builder, the caches' undo log, and the
/// benchmark entry point.
@Suite struct WriterFastPathTests {
    /// 32-row, 4-row and single-row statements all take part (107 = 3 x 32 + 2 x 4 + 3), interleaved with
    /// instance rows; every event lands once, in arrival order, with its own values.
    @Test func eventsKeepArrivalOrderAndValuesAcrossChunks() throws {
        let dir = TempDir()
        let (store, _) = try makeStore(dir, programs: ["web"])
        let w = store.startWriter(options: .init(batchSize: 10_000))
        var expected: [(ts: Int64, kind: String, value: Int64?, detail: String?)] = []
        var n: UInt64 = 0
        while expected.count < 107 {
            n += 1
            if n % 10 == 0 {
                let i = info(n, "web", pid: Int32(1000 + n), ticks: n, at: Int64(n) * 10)
                w.record(HistEvent(time: ts(Int64(n) * 10), program: "web", payload: .started(i)))
                expected.append((Int64(n) * 10, "start", nil, nil))
            } else {
                w.record(HistEvent(time: ts(Int64(n) * 10), program: "web",
                                   payload: .restartScheduled(instance: nil, delay: .milliseconds(Int64(n)), attempt: Int(n), workerIndex: n % 3 == 0 ? 2 : nil)))
                expected.append((Int64(n) * 10, "restart_scheduled", Int64(n),
                                 n % 3 == 0 ? #"{"attempt":\#(n),"worker_index":2}"# : #"{"attempt":\#(n)}"#))
            }
        }
        #expect(w.flush(timeout: .seconds(10)))
        let r = try reader(dir.file("h.db"))
        let rows = try r.read { db in
            try Row.fetchAll(db, sql: """
                SELECT e.id, e.ts, k.name, e.value, e.detail, e.run_id FROM events e JOIN event_kinds k ON k.id = e.kind
                WHERE k.name IN ('start', 'restart_scheduled') ORDER BY e.id
                """)
        }
        #expect(rows.count == expected.count)
        for (row, want) in zip(rows, expected) {
            #expect(row[1] as Int64 - T0 == want.ts)
            #expect(row[2] as String == want.kind)
            #expect(row[3] as Int64? == want.value)
            #expect(row[4] as String? == want.detail)
            #expect(row[5] as Int64? == store.runID)
        }
        #expect(w.stats.lastCommittedEventID == rows.last?[0] as Int64?)
        store.close()
    }

    /// A start and its end in one batch become one complete instances row (no UPDATE); an end in a later
    /// batch updates the row. Both read back the same, and events point at the right rows.
    @Test func instanceRowsAreCompleteWhetherStartAndEndShareABatchOrNot() throws {
        let dir = TempDir()
        let (store, _) = try makeStore(dir, programs: ["web"])
        let w = store.startWriter(options: .init(batchSize: 10_000))
        for c in 0..<50 {
            let i = info(UInt64(c + 1), "web", pid: Int32(500 + c), ticks: UInt64(c), at: Int64(c) * 100)
            w.record(HistEvent(time: ts(Int64(c) * 100), program: "web", payload: .started(i)))
            w.record(HistEvent(time: ts(Int64(c) * 100 + 1), program: "web", payload: .stopRequested(instance: i, reason: .operator, signal: 15)))
            w.record(ended(i, at: Int64(c) * 100 + 50, .exited(code: 3), .crash, tail: "tail \(c)"))
        }
        let late = info(99, "web", pid: 999, ticks: 99, at: 10_000)
        w.record(HistEvent(time: ts(10_000), program: "web", payload: .started(late)))
        #expect(w.flush(timeout: .seconds(10)))
        w.record(ended(late, at: 10_050, .exited(code: 3), .crash, tail: "tail late"))
        #expect(w.flush(timeout: .seconds(10)))
        let r = try reader(dir.file("h.db"))
        let rows = try r.read { db in
            try Row.fetchAll(db, sql: "SELECT id, pid, started_at, ended_at, exit_code, class, uptime_ms, stderr_tail FROM instances ORDER BY id")
        }
        #expect(rows.count == 51)
        for (c, row) in rows.enumerated() {
            let start: Int64 = c < 50 ? Int64(c) * 100 : 10_000
            #expect(row[1] as Int32 == (c < 50 ? Int32(500 + c) : 999))
            #expect(row[2] as Int64 - T0 == start)
            #expect(row[3] as Int64? == T0 + start + 50)
            #expect(row[4] as Int32? == 3)
            #expect(row[5] as String? == "crash")
            #expect(row[6] as Int64? == 50)
            #expect(row[7] as String? == (c < 50 ? "tail \(c)" : "tail late"))
            // start, stop_requested (not for the late one) and crash all point at this row.
            let pointing = try count(r, "SELECT count(*) FROM events WHERE instance_id = ?", [row[0] as Int64])
            #expect(pointing == (c < 50 ? 3 : 2))
        }
        #expect(try count(r, "SELECT count(*) FROM instances WHERE ended_at IS NULL") == 0)
        store.close()
    }

    @Test func jsonTextEscapesAndFormatsLikeJSON() throws {
        var j = JSONText()
        #expect(j.textOrNil == nil)
        j.add("a", Int64(-1234567890123))
        j.add("b", Int64.min)
        j.add("c", 0 as Int?)
        j.add("skip", nil as Int?)
        j.add("s", "q\"\\\n\r\t\u{01}é😀")
        j.add(dynamicKey: "k\"", 7)
        let text = j.text
        #expect(text == #"{"a":-1234567890123,"b":-9223372036854775808,"c":0,"s":"q\"\\\n\r\t\u0001é😀","k\"":7}"#)
        let decoded = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]
        #expect(decoded?["s"] as? String == "q\"\\\n\r\t\u{01}é😀")
        j.reset()
        #expect(j.isEmpty)
        j.add("x", 5 as Int?)
        #expect(j.text == #"{"x":5}"#)
    }

    @Test func cachesRollBackExactlyWhatTheTransactionChanged() {
        var c = WriterCaches()
        c.setInstance(1, row: 10)
        c.setProgram("web", 1)
        c.commit()
        c.setInstance(1, row: 11) // overwritten, then rolled back
        c.setInstance(2, row: 20) // new, then rolled back
        c.setEnded(1, at: 500)
        c.rollback()
        #expect(c.instanceRows == [1: 10])
        #expect(c.programIDs == ["web": 1])
        #expect(c.endedAt.isEmpty)
    }

    @Test func benchmarkEntryPointsMeasureTheRealWriter() throws {
        let dir = TempDir()
        let t = try WriterBenchmark.throughput(path: dir.file("b.db"), seconds: 1, workload: .lifecycle)
        #expect(t.perSecond.count == 1)
        #expect(t.events > 0)
        #expect(t.dropped == 0)
        let r = try reader(dir.file("b.db"))
        #expect(try count(r, "SELECT count(*) FROM events WHERE kind = 3") > 0) // crash rows were written
        let l = try WriterBenchmark.latency(path: dir.file("l.db"), rate: 200, seconds: 1)
        #expect(l.events == 200)
        #expect(l.p50 > 0 && l.p50 <= l.p99)
        // A benchmark never writes into an existing database.
        #expect(throws: HistoryStoreError.self) { try WriterBenchmark.latency(path: dir.file("l.db"), rate: 10, seconds: 1) }
    }
}
