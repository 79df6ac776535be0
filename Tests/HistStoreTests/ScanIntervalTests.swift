import Foundation
import GRDB
import HistModel
import Testing
@testable import HistStore

@Suite struct ScanIntervalTests {
    func zombie(_ pid: Int32, _ ticks: UInt64, _ n: Int) -> ZombieParentSighting {
        ZombieParentSighting(parent: ProcessIdentity(pid: pid, startTicks: ticks), parentName: "bad", parentCmdline: "bad --x", zombies: n)
    }

    func orphan(_ pid: Int32, _ ticks: UInt64, program: String? = nil) -> OrphanSighting {
        OrphanSighting(identity: ProcessIdentity(pid: pid, startTicks: ticks), name: "lost", cmdline: "lost -d", user: "root",
                       startedAt: ts(-3_600_000), program: program, reason: .adoptedByHistd)
    }

    func scan(_ at: Int64, zombies: [ZombieParentSighting], orphans: [OrphanSighting] = []) -> ScanReport {
        ScanReport(time: ts(at), summary: ScanSummary(total: 100, running: 2, sleeping: 90, diskSleep: 1, zombie: zombies.count,
                                                      stopped: 0, other: 0, totalRSSBytes: 1 << 30),
                   zombieParents: zombies, orphans: orphans)
    }

    /// An orphan first seen in the middle of its execve (the new name, no arguments yet) gets its command
    /// line from the next sighting; one that had a command line keeps its first.
    @Test func anOrphanSeenMidExecGetsItsCommandLineFromTheNextScan() throws {
        let dir = TempDir()
        let (store, _) = try makeStore(dir)
        let w = store.startWriter()
        var midExec = orphan(700, 9)
        midExec.cmdline = ""
        var later = orphan(700, 9)
        later.name = "lost2"
        later.cmdline = "lost -d --later"
        w.record(scan(0, zombies: [], orphans: [midExec, orphan(701, 9)]))
        w.record(scan(10_000, zombies: [], orphans: [later, { var o = orphan(701, 9); o.cmdline = "changed"; return o }()]))
        #expect(w.flush(timeout: .seconds(10)))
        let r = try reader(dir.file("h.db"))
        let rows = try r.read { try Row.fetchAll($0, sql: "SELECT pid, name, cmdline, scans FROM orphans ORDER BY pid") }
        #expect(rows.map { "\($0["pid"] as Int64) \($0["name"] as String) \($0["cmdline"] as String) \($0["scans"] as Int64)" }
                == ["700 lost2 lost -d --later 2", "701 lost lost -d 2"])
        w.close()
        store.close()
    }

    @Test func sightingsExtendIntervalsOnlyAcrossConsecutiveScansOfTheSameIdentity() throws {
        let dir = TempDir()
        let (store, _) = try makeStore(dir)
        let w = store.startWriter()
        w.record(scan(0, zombies: [zombie(500, 1, 2)], orphans: [orphan(700, 9, program: "web")]))
        w.record(scan(10_000, zombies: [zombie(500, 1, 5)], orphans: [orphan(700, 9)]))     // extends both
        w.record(scan(20_000, zombies: [zombie(500, 1, 3), zombie(501, 1, 1)], orphans: []))// extends; new parent
        w.record(scan(30_000, zombies: [zombie(500, 2, 1)], orphans: []))                   // pid reused: new interval
        w.record(scan(40_000, zombies: [], orphans: [orphan(700, 9)]))                      // orphan back after a gap: new
        #expect(w.flush(timeout: .seconds(10)))
        let r = try reader(dir.file("h.db"))
        #expect(try count(r, "SELECT count(*) FROM scans") == 5)
        let z = try r.read { try Row.fetchAll($0, sql: "SELECT * FROM zombie_parents ORDER BY id") }
        #expect(z.count == 3)
        #expect(z[0]["parent_pid"] as Int64 == 500 && z[0]["parent_start_ticks"] as Int64 == 1)
        #expect(z[0]["first_seen"] as Int64 == T0 && z[0]["last_seen"] as Int64 == T0 + 20_000)
        #expect(z[0]["max_zombies"] as Int64 == 5 && z[0]["last_zombies"] as Int64 == 3 && z[0]["scans"] as Int64 == 3)
        #expect(z[1]["parent_pid"] as Int64 == 501)
        #expect(z[2]["parent_pid"] as Int64 == 500 && z[2]["parent_start_ticks"] as Int64 == 2 && z[2]["scans"] as Int64 == 1)
        let o = try r.read { try Row.fetchAll($0, sql: "SELECT * FROM orphan_intervals ORDER BY id") }
        #expect(o.count == 2)
        #expect(o[0]["scans"] as Int64 == 2 && o[0]["last_seen_ms"] as Int64 == T0 + 10_000)
        #expect(o[0]["program"] as String == "web")
        #expect(o[1]["first_seen_ms"] as Int64 == T0 + 40_000)
        let zi = try r.read { try Row.fetchOne($0, sql: "SELECT duration_s FROM zombie_parent_intervals WHERE id = ?", arguments: [z[0]["id"] as Int64]) }
        #expect(zi?[0] as Double? == 20.0)
        store.close()
    }

    @Test func aScanOnceFromCronExtendsTheIntervalOfThePreviousProcess() throws {
        let dir = TempDir()
        let path = dir.file("h.db")
        for (i, at) in [Int64(0), 60_000, 120_000].enumerated() {
            // Like `histd scan --once`: a new process, no run, one scan.
            let store = try HistoryStore.open(path: path)
            let w = store.startWriter()
            #expect(w.runID == nil)
            w.record(scan(at, zombies: [zombie(600, 3, i + 1)]))
            #expect(w.flush(timeout: .seconds(10)))
            store.close()
        }
        let r = try reader(path)
        let z = try r.read { try Row.fetchAll($0, sql: "SELECT * FROM zombie_parents") }
        #expect(z.count == 1)
        #expect(z.first?["scans"] as Int64? == 3)
        #expect(z.first?["last_seen"] as Int64? == T0 + 120_000)
        #expect(try count(r, "SELECT count(*) FROM scans WHERE run_id IS NULL") == 3)
    }
}
