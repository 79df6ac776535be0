import Foundation
import GRDB
import HistModel
import Testing
@testable import HistStore

@Suite struct RunTests {
    @Test func beginRunClosesEarlierOpenRunAsUncleanAndReturnsItsOpenInstances() throws {
        let dir = TempDir()
        let path = dir.file("h.db")
        // Run 1: histd "dies" with one instance running and one ended.
        do {
            let (store, start) = try makeStore(dir)
            #expect(start.closedRuns.isEmpty)
            let w = store.startWriter()
            let alive = info(1, "web", pid: 100, ticks: 5000, at: 10)
            let gone = info(2, "worker", pid: 101, ticks: 5001, at: 11)
            w.record(HistEvent(time: ts(10), program: "web", payload: .started(alive)))
            w.record(HistEvent(time: ts(11), program: "worker", payload: .started(gone)))
            w.record(ended(gone, at: 500, .exited(code: 0), .clean))
            #expect(w.flush(timeout: .seconds(10)))
            w.close()
            store.close() // no endRun: like kill -9
        }
        // Run 2 starts later.
        let store = try HistoryStore.open(path: path)
        let start = try store.beginRun(host: "testhost", pid: 4343, version: "0.2", configPath: nil, configHash: nil,
                                       bootID: "boot-1", programs: [ProgramSpec(name: "web", command: ["/bin/sleep", "9"])],
                                       pools: [], at: ts(60_000))
        #expect(start.closedRuns.count == 1)
        #expect(start.closedRuns.first?.stoppedAt == ts(500)) // its last event
        #expect(start.openInstances.count == 1)
        let open = try #require(start.openInstances.first)
        #expect(open.program == "web")
        #expect(open.identity == ProcessIdentity(pid: 100, startTicks: 5000))
        #expect(open.startedAt == ts(10))
        #expect(start.runID != start.closedRuns[0].runID)
        let r = try reader(path)
        #expect(try count(r, "SELECT count(*) FROM runs WHERE stop_reason = 'unclean' AND stopped_at = ?", [T0 + 500]) == 1)
        #expect(try count(r, "SELECT count(*) FROM runs WHERE stopped_at IS NULL") == 1)
        #expect(try count(r, "SELECT count(*) FROM event_log WHERE kind = 'supervisor_stop' AND detail LIKE '%unclean%'") == 1)
        #expect(try count(r, "SELECT count(*) FROM event_log WHERE kind = 'supervisor_start'") == 2)
        // The config in force for each run is kept.
        let configs = try r.read { try String.fetchAll($0, sql: """
            SELECT c.config_json FROM program_configs c JOIN programs p ON p.id = c.program_id WHERE p.name = 'web' ORDER BY c.run_id
            """) }
        #expect(configs.count == 2)
        #expect(configs[0].contains("/bin/true") && configs[1].contains("/bin/sleep"))

        // histd reports the leftover it stopped; the old instance row gets its end.
        let w = store.startWriter()
        w.record(HistEvent(time: ts(60_001), program: "web", payload: .leftover(Leftover(row: open.rowID, identity: open.identity, action: .stopped, source: .instanceRow, signal: SIGTERM))))
        #expect(w.flush(timeout: .seconds(10)))
        #expect(try count(r, "SELECT count(*) FROM events WHERE kind = 16 AND instance_id = ? AND value = 100", [open.rowID]) == 1)
        #expect(try count(r, "SELECT count(*) FROM instances WHERE id = ? AND class = 'stopped' AND ended_at = ?", [open.rowID, T0 + 60_001]) == 1)

        try store.endRun(reason: .clean, at: ts(70_000))
        #expect(try count(r, "SELECT count(*) FROM runs WHERE id = ? AND stop_reason = 'clean' AND stopped_at = ?", [start.runID, T0 + 70_000]) == 1)
        #expect(try count(r, "SELECT count(*) FROM events WHERE kind = 14 AND run_id = ?", [start.runID]) == 1)
        store.close()

        // Run 3, another boot: the earlier run is clean, nothing to close.
        let s3 = try HistoryStore.open(path: path)
        let st3 = try s3.beginRun(host: "h", pid: 1, version: "v", configPath: nil, configHash: nil, bootID: "boot-2",
                                  programs: [], pools: [])
        #expect(st3.closedRuns.isEmpty && st3.openInstances.isEmpty)
        s3.close()
    }

    @Test func instancesOfAnotherBootAreNotReturnedAsAlive() throws {
        let dir = TempDir()
        do {
            let (store, _) = try makeStore(dir) // boot-1
            let w = store.startWriter()
            w.record(HistEvent(time: ts(10), program: "web", payload: .started(info(1, "web", pid: 100, ticks: 5000, at: 10))))
            #expect(w.flush(timeout: .seconds(10)))
            store.close()
        }
        let store = try HistoryStore.open(path: dir.file("h.db"))
        let start = try store.beginRun(host: "h", pid: 2, version: "v", configPath: nil, configHash: nil, bootID: "boot-2",
                                       programs: [], pools: [])
        #expect(start.closedRuns.count == 1)
        #expect(start.openInstances.isEmpty)
        store.close()
    }
}
