import Foundation
import GRDB
import HistModel
import Testing
@testable import HistStore

@Suite(.serialized) struct RetentionTests {
    static let day: Int64 = 86_400_000
    static let now = ts(60 * day) // "now" is 60 days after T0

    /// Old and recent rows of every pruned table. Returns the store (writer closed).
    func populate(_ dir: TempDir) throws -> HistoryStore {
        let (store, _) = try makeStore(dir)
        let w = store.startWriter()
        let old = 60 * Self.day - 40 * Self.day     // 40 days before now
        let week = 60 * Self.day - 8 * Self.day     // 8 days before now: kept, except snapshots
        let recent = 60 * Self.day - 1 * Self.day
        // An instance that ended long ago, one still running since long ago, one recent.
        let gone = info(1, "web", pid: 10, ticks: 1, at: old)
        let longRunning = info(2, "web", pid: 11, ticks: 2, at: old)
        let fresh = info(3, "worker", pid: 12, ticks: 3, at: recent)
        for i in [gone, longRunning, fresh] {
            w.record(HistEvent(time: i.startedAt, program: i.program, payload: .started(i)))
        }
        // Its end was an operator's doing (migration 0004): its operator_effects row must go with it.
        var end = ended(gone, at: old + 1000, .exited(code: 1), .crash)
        end.operatorAction = 1
        w.record(end)
        for n in 0..<25 {
            w.record(HistEvent(time: ts(old + Int64(n)), program: "web", payload: .gaveUp(instance: nil, restarts: n, workerIndex: nil)))
            w.record(HistEvent(time: ts(recent + Int64(n)), program: "web", payload: .gaveUp(instance: nil, restarts: n, workerIndex: nil)))
        }
        for (n, t) in [old, old + 1, week, week + 1, recent].enumerated() {
            let samples = [2, 3].map {
                InstanceSample(instance: InstanceID($0), state: "S", utimeTicks: UInt64(n), stimeTicks: 0, rssBytes: 1024,
                               vszBytes: 2048, threads: 1, fds: 3, processes: 1)
            }
            w.record(SnapshotSweep(time: ts(t), samples: samples))
            let z = ZombieParentSighting(parent: ProcessIdentity(pid: Int32(900 + n), startTicks: 1), parentName: "z",
                                         parentCmdline: "z", zombies: 1)
            w.record(ScanReport(time: ts(t), summary: ScanSummary(total: 1), zombieParents: [z], orphans: []))
        }
        #expect(w.flush(timeout: .seconds(10)))
        w.close()
        return store
    }

    func check(_ path: String, _ result: PruneResult) throws {
        let r = try reader(path)
        let cutoff = Self.now.milliseconds - 30 * Self.day
        #expect(try count(r, "SELECT count(*) FROM events WHERE ts < ?", [cutoff]) == 0)
        #expect(try count(r, "SELECT count(*) FROM events WHERE kind = 5") == 25) // the recent ones
        #expect(result.events == 25 + 3 + 1) // old gave_up, 2 starts, 1 crash, supervisor_start
        // The long-running instance (open, run still open) is kept even though it started 40 days ago.
        #expect(try r.read { try Int64.fetchAll($0, sql: "SELECT pid FROM instances ORDER BY pid") } == [11, 12])
        #expect(result.instances == 1)
        #expect(try count(r, "SELECT count(*) FROM operator_effects") == 0)
        #expect(try count(r, "SELECT count(*) FROM scans") == 3)
        #expect(try count(r, "SELECT count(*) FROM zombie_parents") == 3)
        #expect(result.scans == 2 && result.zombieParents == 2)
        // Snapshots: 7-day retention keeps only the recent sweep.
        #expect(try count(r, "SELECT count(*) FROM sweeps") == 1)
        #expect(try count(r, "SELECT count(*) FROM snapshots") == 2)
        #expect(result.sweeps == 4 && result.snapshots == 8)
    }

    @Test func pruneDeletesOldRowsInSmallBatchesAndKeepsRecentOnes() throws {
        let dir = TempDir()
        let store = try populate(dir)
        let result = try store.prune(now: Self.now, retention: .seconds(30 * 86400), snapshotRetention: .seconds(7 * 86400),
                                     batchSize: 7)
        try check(dir.file("h.db"), result)
        // Pruning again finds nothing.
        let again = try store.prune(now: Self.now, retention: .seconds(30 * 86400), snapshotRetention: .seconds(7 * 86400))
        #expect(again.total == 0)
        store.close()
    }

    @Test func maintenancePruneOpensItsOwnConnectionBesideALiveWriter() throws {
        let dir = TempDir()
        let store = try populate(dir)
        let result = try HistoryMaintenance.prune(path: dir.file("h.db"), now: Self.now, retention: .seconds(30 * 86400),
                                                  snapshotRetention: .seconds(7 * 86400), batchSize: 5)
        try check(dir.file("h.db"), result)
        store.close()
    }

    @Test func theWriterPrunesAtStartWhenGivenRetention() throws {
        let dir = TempDir()
        let store = try populate(dir)
        store.close()
        // Real clock now: everything populated (2026-01 .. 2026-03) is older than 1 day only if the clock is
        // past that; use a retention measured from the real clock relative to the populated rows instead.
        let store2 = try HistoryStore.open(path: dir.file("h.db"))
        let ageOfOldest = Timestamp.now().milliseconds - (60 * Self.day - 40 * Self.day + T0)
        let retention = Duration.milliseconds(ageOfOldest - 20 * Self.day) // everything 40 d before "now" goes
        let w = store2.startWriter(options: .init(retention: retention, snapshotRetention: retention, pruneBatchSize: 4))
        #expect(waitUntil { w.stats.pruned > 0 })
        #expect(w.flush(timeout: .seconds(10)))
        #expect(waitUntil { (try? count(reader(dir.file("h.db")), "SELECT count(*) FROM events WHERE kind = 5")) == 25 })
        store2.close()
    }
}
