import Foundation
import GRDB
import HistModel
import Testing
@testable import HistStore

/// Migration 0004: operator actions and the lifecycle rows they caused, through the real writer.
@Suite struct OperatorActionTests {
    @Test func everyEventKindIdMatchesTheMigrationSeed() throws {
        let dir = TempDir()
        let (store, _) = try makeStore(dir)
        store.close()
        let r = try reader(dir.file("h.db"))
        let seed = try r.read { try Row.fetchAll($0, sql: "SELECT id, name FROM event_kinds") }
        let byName = Dictionary(uniqueKeysWithValues: seed.map { ($0["name"] as String, $0["id"] as Int64) })
        for kind in EventKind.allCases {
            #expect(byName[kind.rawValue] == EventKindID.id(kind), "\(kind.rawValue)")
        }
        #expect(byName["operator_action"] == 20)
    }

    @Test func actionsAreRecordedAndTheirEndsAreNotCrashes() throws {
        let dir = TempDir()
        let (store, _) = try makeStore(dir)
        let w = store.startWriter()
        let byHand = info(1, "web", pid: 500, ticks: 1, at: 0)
        let signalled = info(2, "web", pid: 501, ticks: 2, at: 100)
        let restarted = info(3, "web", pid: 502, ticks: 3, at: 200)
        let action = OperatorAction(seq: 1, action: "signal", programs: ["web"], result: "done", message: "web: sent HUP to pid 501",
                                    uid: 1000, gid: 1000, user: "ann", pid: 812, comm: "histctl", argument: "HUP")
        let events: [HistEvent] = [
            HistEvent(time: ts(0), program: "web", payload: .started(byHand)),
            ended(byHand, at: 50, .signaled(signal: 9, coreDumped: false), .crash),          // kill -9 by hand: a crash
            HistEvent(time: ts(100), program: "web", payload: .started(signalled)),
            HistEvent(time: ts(150), program: "", payload: .operatorAction(action)),
            HistEvent(time: ts(160), program: "web", payload: .ended(InstanceEnd(instance: signalled, endedAt: ts(160),
                status: .signaled(signal: 1, coreDumped: false), classification: .crash, uptime: .milliseconds(60), stderrTail: "")),
                operatorAction: 1),
            HistEvent(time: ts(161), program: "web", payload: .restartScheduled(instance: signalled, delay: .milliseconds(100), attempt: 1, workerIndex: nil)),
            HistEvent(time: ts(200), program: "web", payload: .started(restarted), operatorAction: 1),
        ]
        for e in events { w.record(e) }
        #expect(w.flush(timeout: .seconds(10)))
        store.close()
        let r = try reader(dir.file("h.db"))
        let row = try #require(try r.read { try Row.fetchOne($0, sql: "SELECT * FROM operator_actions") })
        #expect(row["action"] as String == "signal" && row["programs"] as String == "[\"web\"]" && row["result"] as String == "done")
        #expect(row["uid"] as Int == 1000 && row["user"] as String == "ann" && row["pid"] as Int == 812 && row["comm"] as String == "histctl")
        #expect(row["argument"] as String == "HUP" && row["seq"] as Int == 1 && row["effects"] as Int == 2)
        let effects = try r.read { try Row.fetchAll($0, sql: "SELECT i.pid, f.effect FROM operator_effects f JOIN instances i ON i.id = f.instance_id ORDER BY i.pid") }
        #expect(effects.map { "\($0["pid"] as Int) \($0["effect"] as String)" } == ["501 ended", "502 started"])
        // The view and the report query: the hand kill only.
        #expect(try r.read { try Int.fetchAll($0, sql: "SELECT pid FROM crashes") } == [500])
        let sql = try #require(BundledSQL.query("crashes"))
        let pids = try r.read { try Int.fetchAll($0, sql: sql, arguments: ["since": T0 - 1000, "until": T0 + 10_000, "programs": "[]", "limit": -1]) }
        #expect(pids.count == 1)
    }
}
