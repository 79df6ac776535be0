import Foundation
import GRDB
import HistModel
import Testing
@testable import HistStore

/// The ship outbox (migrations/0012_ship_outbox.sql, ShipCapture): while capture is on, at most one entry per
/// changed row, bounded by the live rows however many updates the writer makes and after retention; while it
/// is off, no trigger and no entry; turning it on again owes every live row once more (the resync).
@Suite(.serialized) struct ShipOutboxTests {
    static let tables = ["runs", "programs", "instances", "zombie_parents", "orphans"]

    /// Outbox entries, and live rows that can have one (operator_effects counts its distinct instances).
    func sizes(_ r: DatabaseQueue) throws -> (outbox: Int, live: Int) {
        var live = 0
        for t in Self.tables { live += try count(r, "SELECT count(*) FROM \(t)") }
        live += try count(r, "SELECT count(DISTINCT instance_id) FROM operator_effects")
        // The markers: retention's events_reset, and the resync entry a new file gets as capture starts.
        live += try count(r, "SELECT count(*) FROM ship_outbox WHERE tbl IN ('events_reset', 'resync')")
        return (try count(r, "SELECT count(*) FROM ship_outbox"), live)
    }

    /// Every live row has exactly one entry, and no entry names a row that is gone.
    func checkOneEntryPerLiveRow(_ r: DatabaseQueue) throws {
        for t in Self.tables {
            #expect(try count(r, "SELECT count(*) FROM \(t) WHERE id NOT IN (SELECT row_id FROM ship_outbox WHERE tbl = ?)", [t]) == 0,
                    "a live \(t) row has no outbox entry")
            #expect(try count(r, "SELECT count(*) FROM ship_outbox o WHERE tbl = ? AND NOT EXISTS (SELECT 1 FROM \(t) WHERE id = o.row_id)", [t]) == 0,
                    "an outbox entry names a deleted \(t) row")
        }
        #expect(try count(r, """
            SELECT count(*) FROM ship_outbox o WHERE tbl = 'operator_effects'
            AND NOT EXISTS (SELECT 1 FROM operator_effects WHERE instance_id = o.row_id)
            """) == 0)
        #expect(try count(r, "SELECT count(DISTINCT instance_id) FROM operator_effects WHERE instance_id NOT IN (SELECT row_id FROM ship_outbox WHERE tbl = 'operator_effects')") == 0)
        #expect(try count(r, "SELECT count(*) FROM (SELECT 1 FROM ship_outbox GROUP BY tbl, row_id HAVING count(*) > 1)") == 0)
    }

    @Test func theOutboxStaysWithinTheLiveRowsAfterManyUpdatesAndAPrune() throws {
        let dir = TempDir()
        let (store, _) = try makeStore(dir, ship: .on)
        let path = dir.file("h.db")
        let r = try reader(path)
        let w = store.startWriter()
        let old = 10 * RetentionTests.day
        let first = info(1, "web", pid: 10, ticks: 1, at: old)
        w.record(HistEvent(time: first.startedAt, program: first.program, payload: .started(first)))
        let oldZombie = ZombieParentSighting(parent: ProcessIdentity(pid: 900, startTicks: 1), parentName: "z", parentCmdline: "z", zombies: 1)
        w.record(ScanReport(time: ts(old), summary: ScanSummary(total: 1), zombieParents: [oldZombie], orphans: []))
        #expect(w.flush(timeout: .seconds(10)))
        try checkOneEntryPerLiveRow(r)
        // A shipper's cursor at the end of the outbox as it is now.
        let cursor = try count(r, "SELECT max(seq) FROM ship_outbox")
        let zombieID = try count(r, "SELECT min(id) FROM zombie_parents")

        let base = 60 * RetentionTests.day - 2 * RetentionTests.day
        for n in 0..<40 {
            let i = info(InstanceID(100 + n), "worker", pid: Int32(2000 + n), ticks: UInt64(10 + n), at: base + Int64(n) * 10)
            w.record(HistEvent(time: i.startedAt, program: i.program, payload: .started(i)))
            var end = ended(i, at: base + Int64(n) * 10 + 5, .exited(code: 1), .crash)
            if n == 0 { end.operatorAction = 2 }
            w.record(end)
        }
        let parent = ProcessIdentity(pid: 4000, startTicks: 7)
        for n in 0..<300 {
            let z = ZombieParentSighting(parent: parent, parentName: "z", parentCmdline: "z", zombies: 1 + n % 3)
            w.record(ScanReport(time: ts(base + 1000 + Int64(n) * 100), summary: ScanSummary(total: 1), zombieParents: [z], orphans: []))
        }
        w.record(ended(first, at: base + 50_000, .exited(code: 0), .crash))
        #expect(w.flush(timeout: .seconds(10)))

        let updates = try count(r, "SELECT scans FROM zombie_parents WHERE parent_pid = 4000")
        #expect(updates == 300, "the 300 sightings were one row extended, not 300 rows")
        var s = try sizes(r)
        #expect(s.outbox <= s.live, "outbox \(s.outbox) entries for \(s.live) live rows")
        try checkOneEntryPerLiveRow(r)
        // A row changed after the cursor passed its entry is owed again: its entry moved after the cursor.
        let extended = try count(r, "SELECT id FROM zombie_parents WHERE parent_pid = 4000")
        #expect(try count(r, "SELECT seq FROM ship_outbox WHERE tbl = 'zombie_parents' AND row_id = ?", [extended]) > cursor)
        #expect(try count(r, "SELECT count(*) FROM ship_outbox WHERE tbl = 'instances' AND seq > ?", [cursor]) >= 40)
        // The first instance, inserted before the cursor and ended after it, is owed again.
        #expect(try count(r, "SELECT seq FROM ship_outbox WHERE tbl = 'instances' AND row_id = 1") > cursor)
        // An old zombie row not changed since keeps its old entry (not re-shipped).
        #expect(try count(r, "SELECT seq FROM ship_outbox WHERE tbl = 'zombie_parents' AND row_id = ?", [zombieID]) <= cursor)

        // Retention deletes most of it; the entries of deleted rows go in the same transaction.
        let before = s.outbox
        let result = try store.prune(now: Timestamp(milliseconds: T0 + 200 * RetentionTests.day), retention: .seconds(30 * 86400),
                                     snapshotRetention: .seconds(7 * 86400), batchSize: 7)
        w.close()
        #expect(result.instances >= 41 && result.zombieParents >= 2)
        s = try sizes(r)
        #expect(s.outbox <= s.live, "outbox \(s.outbox) entries for \(s.live) live rows after the prune")
        #expect(s.outbox < before)
        try checkOneEntryPerLiveRow(r)
        // Retention emptied events: one events_reset entry, after every other entry.
        #expect(try count(r, "SELECT count(*) FROM ship_outbox WHERE tbl = 'events_reset'") == 1)
        #expect(try count(r, "SELECT seq FROM ship_outbox WHERE tbl = 'events_reset'") == (try count(r, "SELECT max(seq) FROM ship_outbox")))
        store.close()
    }

    /// Capture off: the writer runs no trigger (none exists on its connection) and writes no entry, and the
    /// flag says so. On again: one 'resync' entry, after every older one, owes every live row, capture is on,
    /// and later changes get entries after it.
    @Test func offWritesNothingAndTurningItOnResyncsEveryLiveRow() throws {
        let dir = TempDir()
        let path = dir.file("h.db")
        // A period with capture on, so the outbox has entries a shipper may already have passed.
        do {
            let (store, _) = try makeStore(dir, ship: .on)
            let w = store.startWriter()
            let i = info(1, "web", pid: 10, ticks: 1, at: 1000)
            w.record(HistEvent(time: i.startedAt, program: i.program, payload: .started(i)))
            #expect(w.flush(timeout: .seconds(10)))
            w.close()
            store.close()
        }
        let q = try reader(path)
        let passed = try count(q, "SELECT max(seq) FROM ship_outbox")
        #expect(try count(q, "SELECT enabled FROM ship_capture") == 1)
        // Off: instances start and end, zombie intervals grow; nothing is captured.
        do {
            let (store, _) = try makeStore(dir, ship: .off)
            let w = store.startWriter()
            for n in 0..<10 {
                let i = info(InstanceID(10 + n), "worker", pid: Int32(100 + n), ticks: UInt64(5 + n), at: 2000 + Int64(n) * 10)
                w.record(HistEvent(time: i.startedAt, program: i.program, payload: .started(i)))
                w.record(ended(i, at: 2005 + Int64(n) * 10, .exited(code: 1), .crash))
            }
            let z = ZombieParentSighting(parent: ProcessIdentity(pid: 900, startTicks: 1), parentName: "z", parentCmdline: "z", zombies: 1)
            for n in 0..<5 { w.record(ScanReport(time: ts(3000 + Int64(n)), summary: ScanSummary(total: 1), zombieParents: [z], orphans: [])) }
            #expect(w.flush(timeout: .seconds(10)))
            #expect(try store.dbQueue.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM sqlite_temp_master WHERE type = 'trigger'") } == 0)
            w.close()
            store.close()
        }
        #expect(try count(q, "SELECT max(seq) FROM ship_outbox") == passed, "capture off wrote outbox entries")
        #expect(try count(q, "SELECT enabled FROM ship_capture") == 0)
        // On again: the resync.
        let opened = try HistoryStore.open(path: path, ship: .on)
        #expect(try count(q, "SELECT enabled FROM ship_capture") == 1)
        // One 'resync' entry owes every live row (histd-ship copies the tables whole there), after every
        // entry a shipper may have passed; the entries before it are gone.
        #expect(try count(q, "SELECT count(*) FROM ship_outbox WHERE tbl <> 'events_reset'") == 1)
        let resync = try count(q, "SELECT seq FROM ship_outbox WHERE tbl = 'resync'")
        #expect(resync > passed, "the resync entry is not after what a shipper may have passed")
        opened.close()
        // Opening again with capture on does not resync a second time (nothing changed while off).
        let again = try HistoryStore.open(path: path, ship: .on)
        #expect(try count(q, "SELECT max(seq) FROM ship_outbox") == resync)
        again.close()
        // From now on every change is captured again, after the resync entry.
        let (store, _) = try makeStore(dir, ship: .on)
        let w = store.startWriter()
        let late = info(99, "web", pid: 999, ticks: 99, at: 5000)
        w.record(HistEvent(time: late.startedAt, program: late.program, payload: .started(late)))
        #expect(w.flush(timeout: .seconds(10)))
        w.close()
        #expect(try count(q, "SELECT seq FROM ship_outbox WHERE tbl = 'instances' AND row_id = (SELECT max(id) FROM instances)") > resync)
        #expect(try count(q, "SELECT count(*) FROM ship_outbox WHERE tbl = 'resync'") == 1)
        store.close()
        // A tool's connection (ship: nil) leaves the flag alone.
        let tool = try HistoryStore.open(path: path)
        #expect(try count(q, "SELECT enabled FROM ship_capture") == 1)
        tool.close()
    }
}
