import Foundation
import GRDB
import HistModel
import Testing
import TestThreads
@testable import HistStore

/// Recording the run is the writer's first item: when the database refuses it at first, the writer
/// retries it before anything else, and the run ends up recorded with every row pointing at it.
@Suite(.serialized, .blocking) struct RunStartRetryTests {
    @Test func aRunThatCannotBeRecordedAtFirstIsRecordedBeforeAnythingElse() throws {
        let dir = TempDir()
        let store = try HistoryStore.open(path: dir.file("h.db"))
        // The database refuses writes (like a read-only or full disk at histd's start).
        try store.withWriteConnection { try $0.execute(sql: "PRAGMA query_only = 1") }
        let request = RunRequest(host: "testhost", pid: 4242, version: "0.1-test", configPath: "/etc/histd.toml",
                                     configHash: "abc", bootID: "boot-1",
                                     programs: [ProgramSpec(name: "web", command: ["/bin/true"])], pools: [], at: ts(0))
        let w = store.startWriter(beginning: request, options: .init(retryInitial: .milliseconds(5), retryMax: .milliseconds(50)))
        let a = info(1, "web", pid: 300, ticks: 7000, at: 10)
        w.record(HistEvent(time: ts(10), program: "web", payload: .started(a)))
        w.record(ended(a, at: 500, .exited(code: 3), .crash, tail: "boom"))
        w.record(HistEvent(time: ts(500), program: "web",
                           payload: .restartScheduled(instance: a, delay: .seconds(1), attempt: 1, workerIndex: nil)))
        #expect(waitUntil { w.stats.writeErrors > 0 })
        #expect(w.stats.lastError?.contains("begin run") == true)
        #expect(w.waitForRun(timeout: .milliseconds(100)) == nil, "the run cannot have been recorded yet")
        #expect(w.runID == nil && store.runID == nil)

        // The database becomes writable: the run is recorded first, then everything queued.
        try store.withWriteConnection { try $0.execute(sql: "PRAGMA query_only = 0") }
        let start = try #require(w.waitForRun(timeout: .seconds(20)))
        #expect(w.runID == start.runID && store.runID == start.runID)
        #expect(w.flush(timeout: .seconds(20)))
        try store.endRun(reason: .clean)
        store.close()

        let r = try reader(dir.file("h.db"))
        let runs = try r.read { try Row.fetchAll($0, sql: "SELECT id, started_at, stopped_at, stop_reason, config_hash FROM runs") }
        #expect(runs.count == 1)
        #expect(runs.first?[0] as Int64? == start.runID)
        #expect(runs.first?[1] as Int64? == T0, "started_at is when histd started, not when the run could be recorded")
        #expect(runs.first?[2] as Int64? != nil)
        #expect(runs.first?[3] as String? == "clean")
        #expect(runs.first?[4] as String? == "abc")
        #expect(try count(r, "SELECT count(*) FROM program_configs WHERE run_id = ?", [start.runID]) == 1)
        #expect(try count(r, "SELECT count(*) FROM instances") == 1)
        #expect(try count(r, "SELECT count(*) FROM instances WHERE run_id = ? AND class = 'crash'", [start.runID]) == 1)
        // Every event of the run points at it: start, crash, restart_scheduled, supervisor_start/stop, and
        // the storage_outage that says the database refused writes for a while (migration 0010).
        #expect(try count(r, "SELECT count(*) FROM events WHERE kind IN (SELECT id FROM event_kinds)") == 6)
        #expect(try count(r, "SELECT count(*) FROM storage_outages WHERE run_id = ? AND states = 'read_only'", [start.runID]) == 1)
        #expect(try count(r, "SELECT count(*) FROM events WHERE kind IN (SELECT id FROM event_kinds) AND run_id IS NOT ?",
                          [start.runID]) == 0)
        #expect(try count(r, """
            SELECT count(*) FROM events e JOIN instances i ON i.id = e.instance_id
            WHERE e.kind = (SELECT id FROM event_kinds WHERE name = 'restart_scheduled') AND i.pid = 300
            """) == 1)
    }

    /// Without a run (`histd scan --once`), an instance has no run to belong to: it is refused and
    /// counted, never written with a made-up run_id 0.
    @Test func anInstanceWithoutARunIsRefusedNotGivenRunZero() throws {
        let dir = TempDir()
        let store = try HistoryStore.open(path: dir.file("h.db"))
        let w = store.startWriter()
        #expect(w.runID == nil)
        w.record(HistEvent(time: ts(10), program: "web", payload: .started(info(1, "web", pid: 300, ticks: 7000, at: 10))))
        #expect(w.flush(timeout: .seconds(10)))
        store.close()
        let r = try reader(dir.file("h.db"))
        #expect(try count(r, "SELECT count(*) FROM instances") == 0)
        #expect(w.stats.dropped == 1)
        #expect(try count(r, "SELECT count(*) FROM recording_gaps WHERE reason LIKE '%rejected%'") == 1)
    }
}
