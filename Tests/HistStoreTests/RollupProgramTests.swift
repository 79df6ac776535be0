import Foundation
import GRDB
import HistModel
import Testing
@testable import HistStore

/// Which program a rollup row counts a crash under, and histd's restore_state read through
/// `program_hours` (migrations/0011_loop_rollups.sql).
@Suite struct RollupProgramTests {
    /// An end event that names no program (the writer takes what it is given) is counted under the
    /// program its row was started with, in crash_hours and loop_hours alike, never under id 0.
    @Test func anEndWithoutAProgramNameCountsUnderItsRowsProgram() throws {
        let dir = TempDir()
        let (store, _) = try makeStore(dir, programs: ["web"])
        let w = store.startWriter(options: .init(batchSize: 10_000))
        var infos: [InstanceInfo] = []
        for c in 0..<4 {
            let i = info(UInt64(c + 1), "web", pid: Int32(500 + c), ticks: UInt64(c), at: Int64(c) * 1000)
            infos.append(i)
            w.record(HistEvent(time: ts(Int64(c) * 1000), program: "web", payload: .started(i)))
        }
        // The starts are committed first, so the ends take the UPDATE path that has no program id of its own.
        #expect(w.flush(timeout: .seconds(10)))
        for (c, i) in infos.enumerated() {
            let end = InstanceEnd(instance: i, endedAt: ts(Int64(c) * 1000 + 500), status: .exited(code: 3), classification: .crash,
                                  uptime: .milliseconds(500), stderrTail: "")
            w.record(HistEvent(time: ts(Int64(c) * 1000 + 500), program: "", payload: .ended(end)))
        }
        #expect(w.flush(timeout: .seconds(10)))
        let r = try reader(dir.file("h.db"))
        let web = try count(r, "SELECT id FROM programs WHERE name = 'web'")
        #expect(try count(r, "SELECT count(*) FROM instances WHERE class = 'crash'") == 4)
        #expect(try count(r, "SELECT count(*) FROM crash_hours WHERE program_id <> ?", [web]) == 0)
        #expect(try count(r, "SELECT coalesce(sum(crashes), 0) FROM crash_hours WHERE program_id = ?", [web]) == 4)
        // Four crashes 1 s apart are a loop: all four are members, under web.
        #expect(try count(r, "SELECT count(*) FROM loop_hours WHERE program_id <> ?", [web]) == 0)
        #expect(try count(r, "SELECT coalesce(sum(members), 0) FROM loop_hours WHERE program_id = ?", [web]) == 4)
        store.close()
    }

    /// restore_state's last fact per program, read through program_hours, equals the newest
    /// start/restart_scheduled/gave_up event by id (the definition), for programs with facts in
    /// different hours; a program with none is absent.
    @Test func lastRestartFactsMatchTheNewestEvent() throws {
        let dir = TempDir()
        let (store, _) = try makeStore(dir, programs: ["web", "batch", "cron", "idle"])
        let w = store.startWriter(options: .init(batchSize: 3))
        let hour: Int64 = 3_600_000
        var next: InstanceID = 0
        func cycle(_ program: String, at t: Int64, then last: String) {
            next += 1
            let i = info(next, program, pid: Int32(100 + next), ticks: next, at: t)
            w.record(HistEvent(time: ts(t), program: program, payload: .started(i)))
            guard last != "start" else { return }
            w.record(ended(i, at: t + 10, .exited(code: 1), .crash))
            if last == "restart" {
                w.record(HistEvent(time: ts(t + 10), program: program, payload: .restartScheduled(instance: i, delay: .milliseconds(1500), attempt: 4, workerIndex: nil)))
            } else {
                w.record(HistEvent(time: ts(t + 10), program: program, payload: .gaveUp(instance: i, restarts: 7, workerIndex: nil)))
            }
        }
        cycle("web", at: 0, then: "restart")
        cycle("web", at: 5 * hour, then: "restart")
        cycle("batch", at: hour, then: "gave_up")
        cycle("cron", at: 2 * hour, then: "restart")
        cycle("cron", at: 7 * hour + 5, then: "start")
        #expect(w.flush(timeout: .seconds(10)))
        let facts = store.lastRestartFacts(programs: ["web", "batch", "cron", "idle", "nosuch"])
        #expect(facts["web"] == .restartScheduled(at: ts(5 * hour + 10), delay: .milliseconds(1500), attempt: 4))
        #expect(facts["batch"] == .gaveUp(restarts: 7))
        #expect(facts["cron"] == .started)
        #expect(facts["idle"] == nil)
        #expect(facts["nosuch"] == nil)
        #expect(facts.count == 3)
        store.close()
    }
}
