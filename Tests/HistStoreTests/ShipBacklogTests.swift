import Foundation
import GRDB
import HistModel
import Testing
@testable import HistStore

#if canImport(Glibc)
import Glibc
#endif

/// Backpressure (ShipHold, docs/FLEET.md "Backpressure"): while the file captures changes for histd-ship,
/// retention keeps what histd-ship's state file does not say is shipped, up to ship_max_backlog, and past it
/// deletes the oldest unshipped rows and records a ship_gaps row with an outbox entry (shipped too).
@Suite(.serialized) struct ShipBacklogTests {
    static let day = RetentionTests.day
    static let now = RetentionTests.now
    static let retention = Duration.seconds(30 * 86400)
    static var cutoff: Int64 { now.milliseconds - 30 * day }

    /// 200 old gave_up events (40 days before now, each with a detail), an old crashed instance, 10 recent events.
    /// `sweeps`: also an instance that stays up, with 10 sweeps of one snapshot 20 days ago and one an hour ago.
    func populate(_ dir: TempDir, sweeps: Bool = false) throws -> (HistoryStore, String) {
        let (store, _) = try makeStore(dir, ship: .on)
        let w = store.startWriter()
        if sweeps {
            let up = info(2, "worker", pid: 20, ticks: 2, at: 20 * Self.day)
            w.record(HistEvent(time: up.startedAt, program: up.program, payload: .started(up)))
            for t in (0..<10).map({ 20 * Self.day + 1000 + Int64($0) * 1000 }) + [60 * Self.day - 3_600_000] {
                let sample = InstanceSample(instance: up.id, state: "S", utimeTicks: 1, stimeTicks: 0, rssBytes: 1024, vszBytes: 2048,
                                            threads: 1, fds: 3, processes: 1)
                w.record(SnapshotSweep(time: ts(t), samples: [sample]))
            }
        }
        let old = 20 * Self.day
        let gone = info(1, "web", pid: 10, ticks: 1, at: old)
        w.record(HistEvent(time: gone.startedAt, program: gone.program, payload: .started(gone)))
        w.record(ended(gone, at: old + 10, .exited(code: 1), .crash, tail: String(repeating: "x", count: 200)))
        for n in 0..<200 {
            w.record(HistEvent(time: ts(old + 100 + Int64(n)), program: "web", payload: .gaveUp(instance: nil, restarts: n, workerIndex: nil)))
        }
        for n in 0..<10 {
            w.record(HistEvent(time: ts(59 * Self.day + Int64(n)), program: "web", payload: .gaveUp(instance: nil, restarts: n, workerIndex: nil)))
        }
        #expect(w.flush(timeout: .seconds(10)))
        w.close()
        return (store, dir.file("h.db"))
    }

    func epoch(_ r: DatabaseQueue) throws -> String { try r.read { try String.fetchOne($0, sql: "SELECT epoch FROM ship_epoch")! } }

    func writeState(_ path: String, epoch: String, seq: Int64?, event: Int64?) {
        let s = ShipState(epoch: epoch, hostID: "h1", outboxSeq: seq, eventID: event, state: ShipState.shipping,
                          updatedAt: Self.now.milliseconds, lastSuccessAt: Self.now.milliseconds, backlogRows: 0, oldestUnshippedAt: nil)
        #expect(s.write(to: ShipState.path(forDatabase: path)) == nil)
    }

    func oldEvents(_ r: DatabaseQueue) throws -> Int { try count(r, "SELECT count(*) FROM events WHERE ts < ?", [Self.cutoff]) }

    @Test func retentionKeepsWhatIsNotShippedWithinTheCap() throws {
        let dir = TempDir()
        let (store, path) = try populate(dir)
        defer { store.close() }
        let r = try reader(path)
        let old = try oldEvents(r)
        #expect(old >= 200)
        let cap: Int64 = 1 << 30

        // No state file: nothing known shipped, everything past the period is held.
        var result = try store.prune(now: Self.now, retention: Self.retention, snapshotRetention: Self.retention, batchSize: 50, shipMaxBacklog: cap)
        #expect(result.events == 0 && result.instances == 0 && result.shipGaps == 0)
        #expect(try oldEvents(r) == old)

        // A state file of another epoch (a recreated file's shipper), and one that is a symbolic link: ignored.
        writeState(path, epoch: "not-this-file", seq: Int64.max / 2, event: Int64.max / 2)
        result = try store.prune(now: Self.now, retention: Self.retention, snapshotRetention: Self.retention, shipMaxBacklog: cap)
        #expect(result.events == 0 && result.instances == 0)
        let e = try epoch(r)
        let statePath = ShipState.path(forDatabase: path)
        unlink(statePath)
        writeState(dir.file("elsewhere"), epoch: e, seq: Int64.max / 2, event: Int64.max / 2)
        #expect(symlink(dir.file("elsewhere.ship-state"), statePath) == 0)
        if case .failure(.unsafe) = ShipState.read(forDatabase: path) {} else { Issue.record("a symbolic link was read") }
        result = try store.prune(now: Self.now, retention: Self.retention, snapshotRetention: Self.retention, shipMaxBacklog: cap)
        #expect(result.events == 0 && result.instances == 0)
        unlink(statePath)
        // Group-writable: ignored too.
        writeState(path, epoch: e, seq: Int64.max / 2, event: Int64.max / 2)
        chmod(statePath, 0o664)
        result = try store.prune(now: Self.now, retention: Self.retention, snapshotRetention: Self.retention, shipMaxBacklog: cap)
        #expect(result.events == 0 && result.instances == 0)

        // Shipped up to the 100th event and to just before the instance's outbox entry: only those events go.
        let ids = try r.read { try Int64.fetchAll($0, sql: "SELECT id FROM events WHERE ts < ? ORDER BY id", arguments: [Self.cutoff]) }
        let instanceSeq = try count(r, "SELECT seq FROM ship_outbox WHERE tbl = 'instances' AND row_id = 1")
        writeState(path, epoch: e, seq: Int64(instanceSeq - 1), event: ids[99])
        result = try store.prune(now: Self.now, retention: Self.retention, snapshotRetention: Self.retention, batchSize: 30, shipMaxBacklog: cap)
        #expect(result.events == 100)
        #expect(try count(r, "SELECT min(id) FROM events") == Int(ids[100]), "the unshipped events stay")
        #expect(result.instances == 0, "the crashed instance's entry is after the shipped seq: kept")
        #expect(try count(r, "SELECT count(*) FROM instances WHERE id = 1") == 1)
        #expect(try count(r, "SELECT count(*) FROM ship_gaps") == 0)

        // Everything shipped: retention deletes as without [ship].
        let maxSeq = try count(r, "SELECT max(seq) FROM ship_outbox")
        writeState(path, epoch: e, seq: Int64(maxSeq), event: ids.last!)
        result = try store.prune(now: Self.now, retention: Self.retention, snapshotRetention: Self.retention, shipMaxBacklog: cap)
        #expect(try oldEvents(r) == 0)
        #expect(result.instances == 1)
        #expect(try count(r, "SELECT count(*) FROM events WHERE kind = 5") == 10, "the recent events are kept")
        #expect(try count(r, "SELECT count(*) FROM ship_gaps") == 0)
    }

    @Test func pastTheCapTheOldestUnshippedGoAndAShipGapSaysSo() throws {
        let dir = TempDir()
        let (store, path) = try populate(dir)
        defer { store.close() }
        let r = try reader(path)
        let ids = try r.read { try Int64.fetchAll($0, sql: "SELECT id FROM events WHERE ts < ? ORDER BY id", arguments: [Self.cutoff]) }
        let heldEvents = try count(r, "SELECT sum(48 + coalesce(length(detail), 0)) FROM events WHERE ts < ?", [Self.cutoff])
        let heldInstance = try count(r, "SELECT 120 + length(stderr_tail) FROM instances WHERE id = 1")
        // A cap that fits the instance and about half of the events: the oldest events go, the instance stays.
        let cap = Int64(heldInstance + heldEvents / 2)
        var result = try store.prune(now: Self.now, retention: Self.retention, snapshotRetention: Self.retention, batchSize: 40, shipMaxBacklog: cap)
        #expect(result.shipGaps == 1)
        #expect(result.events == result.shipGapRows)
        #expect(result.events > ids.count / 3 && result.events < ids.count * 2 / 3, "about half: \(result.events) of \(ids.count)")
        #expect(result.instances == 0)
        let gap = try r.read { try Row.fetchOne($0, sql: "SELECT * FROM ship_gaps")! }
        #expect(gap["tbl"] as String == "events")
        #expect(gap["rows"] as Int == result.events)
        #expect(gap["first_id"] as Int64 == ids[0], "the oldest went first")
        #expect(gap["last_id"] as Int64 == ids[result.events - 1])
        #expect(gap["reason"] as String == "ship_max_backlog")
        #expect(gap["cap_bytes"] as Int64 == cap)
        #expect(gap["held_bytes"] as Int == heldEvents + heldInstance)
        #expect(try count(r, "SELECT min(id) FROM events") == Int(ids[result.events]))
        // The gap is owed to central like any row: an outbox entry after everything before it.
        let gapID: Int64 = gap["id"]
        #expect(try count(r, "SELECT count(*) FROM ship_outbox WHERE tbl = 'ship_gaps' AND row_id = ?", [gapID]) == 1)

        // Within the cap now: a second pass deletes nothing more and records no gap.
        result = try store.prune(now: Self.now, retention: Self.retention, snapshotRetention: Self.retention, shipMaxBacklog: cap)
        #expect(result.total == 0 && result.shipGaps == 0)

        // A cap of 0: every unshipped row past the period goes, events then the instance, each table its own gap.
        result = try store.prune(now: Self.now, retention: Self.retention, snapshotRetention: Self.retention, shipMaxBacklog: 0)
        #expect(try count(r, "SELECT count(*) FROM events WHERE ts < ?", [Self.cutoff]) == 0)
        #expect(result.instances == 1)
        #expect(try r.read { try String.fetchAll($0, sql: "SELECT tbl FROM ship_gaps ORDER BY id") } == ["events", "events", "instances"])
        #expect(try count(r, "SELECT count(*) FROM events WHERE kind = 5") == 10, "within the period nothing goes, cap or not")
    }

    func writeState(_ path: String, epoch: String, seq: Int64?, event: Int64?, sweep: Int64?, resets: Int64 = 0) {
        let s = ShipState(epoch: epoch, hostID: "h1", outboxSeq: seq, eventID: event, state: ShipState.shipping,
                          updatedAt: Self.now.milliseconds, lastSuccessAt: Self.now.milliseconds, backlogRows: 0, oldestUnshippedAt: nil,
                          sweepID: sweep, sweepResets: sweep == nil ? nil : resets)
        #expect(s.write(to: ShipState.path(forDatabase: path)) == nil)
    }

    /// With `ship_snapshots` on, sweeps histd-ship has not looked at are held past snapshot_retention; past
    /// the cap they are the first to go (before any unshipped event), with a 'snapshots' ship_gaps row; and
    /// retention emptying `sweeps` counts a reset in ship_sweeps (its ids start again at 1).
    @Test func unshippedSnapshotsAreHeldAndGoFirstPastTheCap() throws {
        let dir = TempDir()
        let (store, path) = try populate(dir, sweeps: true)
        defer { store.close() }
        let r = try reader(path)
        let week = Duration.seconds(7 * 86400)
        let sweeps = try r.read { try Int64.fetchAll($0, sql: "SELECT id FROM sweeps ORDER BY id") }
        let times = try r.read { try Int64.fetchAll($0, sql: "SELECT ts FROM sweeps ORDER BY id") }
        #expect(sweeps.count == 11)
        let e = try epoch(r)
        let allSeq = Int64(try count(r, "SELECT max(seq) FROM ship_outbox"))
        let allEvents = Int64(try count(r, "SELECT max(id) FROM events"))

        // Shipping snapshots with nothing known shipped: every sweep is held.
        var result = try store.prune(now: Self.now, retention: Self.retention, snapshotRetention: week, shipMaxBacklog: 1 << 30, shipSnapshots: true)
        #expect(result.sweeps == 0 && result.shipGaps == 0)
        // Shipped through the 4th sweep (a snapshot cursor in the state file also says snapshots are shipped).
        writeState(path, epoch: e, seq: allSeq, event: allEvents, sweep: sweeps[3])
        result = try store.prune(now: Self.now, retention: Self.retention, snapshotRetention: week, shipMaxBacklog: 1 << 30)
        #expect(result.sweeps == 4 && result.snapshots == 4)
        #expect(try r.read { try Int64.fetchAll($0, sql: "SELECT id FROM sweeps ORDER BY id") } == Array(sweeps[4...]))
        // A cursor of another reset count is about ids before a restart: nothing known shipped.
        writeState(path, epoch: e, seq: allSeq, event: allEvents, sweep: sweeps[9], resets: 1)
        result = try store.prune(now: Self.now, retention: Self.retention, snapshotRetention: week, shipMaxBacklog: 1 << 30)
        #expect(result.sweeps == 0)

        // Past the cap, with unshipped events held too (event cursor 0): a cap that fits every held event
        // and instance but not the 6 held sweeps drops the sweeps, and no event.
        let eventsBefore = try oldEvents(r)
        let heldEvents = try count(r, "SELECT sum(48 + coalesce(length(detail), 0)) FROM events WHERE ts < ?", [Self.cutoff])
        let heldInstance = try count(r, "SELECT 120 + length(stderr_tail) FROM instances WHERE id = 1")
        writeState(path, epoch: e, seq: 0, event: 0, sweep: sweeps[3])
        result = try store.prune(now: Self.now, retention: Self.retention, snapshotRetention: week, shipMaxBacklog: Int64(heldEvents + heldInstance + 1))
        let eventsAfter = try oldEvents(r)
        #expect(result.events == 0 && result.instances == 0 && eventsAfter == eventsBefore, "events went before snapshots")
        #expect(result.sweeps == 6 && result.snapshots == 6)
        let gap = try r.read { try Row.fetchOne($0, sql: "SELECT * FROM ship_gaps")! }
        #expect(gap["tbl"] as String == "snapshots")
        #expect(gap["rows"] as Int == 6)
        #expect(gap["first_id"] as Int64 == sweeps[4] && gap["last_id"] as Int64 == sweeps[9])
        #expect(gap["first_ts"] as Int64 == times[4] && gap["last_ts"] as Int64 == times[9])
        #expect(try count(r, "SELECT count(*) FROM ship_outbox WHERE tbl = 'ship_gaps'") == 1, "the gap is owed to central")

        // Everything shipped, and a prune a month later: sweeps is empty, and the reset is counted.
        #expect(try count(r, "SELECT resets FROM ship_sweeps") == 0)
        writeState(path, epoch: e, seq: Int64(try count(r, "SELECT max(seq) FROM ship_outbox")), event: allEvents, sweep: sweeps[10])
        result = try store.prune(now: Timestamp(milliseconds: Self.now.milliseconds + 30 * Self.day), retention: Self.retention,
                                 snapshotRetention: week, shipMaxBacklog: 1 << 30)
        #expect(result.sweeps == 1)
        #expect(try count(r, "SELECT count(*) FROM sweeps") == 0)
        #expect(try count(r, "SELECT resets FROM ship_sweeps") == 1)
    }

    /// `HistoryWriter.setShipHold` (what a reload of `[ship] ship_max_backlog` calls) takes effect at the
    /// writer's next prune: held within a 1 GiB cap, then deleted with a gap once the cap is 0.
    @Test func theWritersCapFollowsAReload() throws {
        let dir = TempDir()
        let (first, path) = try populate(dir)
        first.close()
        let store = try HistoryStore.open(path: path, ship: .on)
        defer { store.close() }
        var options = HistoryWriter.Options(retention: .seconds(30 * 86400), snapshotRetention: .seconds(30 * 86400),
                                            pruneEvery: .milliseconds(50))
        options.shipMaxBacklog = 1 << 30
        let w = store.startWriter(options: options)
        let r = try reader(path)
        let before = try count(r, "SELECT count(*) FROM events")
        #expect(before >= 210)
        // Several prunes pass within the cap: every event is older than 30 days of real time, none is shipped.
        Thread.sleep(forTimeInterval: 0.5)
        #expect(try count(r, "SELECT count(*) FROM events") == before, "held events were deleted within the cap")
        w.setShipHold(maxBacklog: 0, snapshots: false)
        let deadline = Date().addingTimeInterval(10)
        while try count(r, "SELECT count(*) FROM ship_gaps") == 0 && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        #expect(try count(r, "SELECT count(*) FROM ship_gaps WHERE tbl = 'events' AND cap_bytes = 0") >= 1, "no gap after the cap went to 0")
        #expect(try count(r, "SELECT count(*) FROM events") < before)
        w.close()
    }

    @Test func withoutCaptureNothingIsHeld() throws {
        let dir = TempDir()
        let (store, _) = try makeStore(dir, ship: .off)
        let w = store.startWriter()
        for n in 0..<20 {
            w.record(HistEvent(time: ts(20 * Self.day + Int64(n)), program: "web", payload: .gaveUp(instance: nil, restarts: n, workerIndex: nil)))
        }
        #expect(w.flush(timeout: .seconds(10)))
        w.close()
        let result = try store.prune(now: Self.now, retention: Self.retention, snapshotRetention: Self.retention, shipMaxBacklog: 1 << 30)
        #expect(result.events >= 20 && result.shipGaps == 0)
        store.close()
    }

    @Test func theStateFileRoundTripsAndRefusesGarbage() {
        let s = ShipState(epoch: "abc", hostID: "h1", outboxSeq: 7, eventID: nil, state: ShipState.cannotShip,
                          reason: "connection refused\nagain", updatedAt: 5, lastSuccessAt: nil, backlogRows: 12, oldestUnshippedAt: 3, pid: 9)
        var back = ShipState.parse(s.text)
        #expect(back?.reason == "connection refused again")
        back?.reason = s.reason
        #expect(back == s)
        #expect(ShipState.parse("") == nil)
        #expect(ShipState.parse("histd-ship-state 1\nepoch=abc\nstate=shipping\nevent_id=x\n") == nil)
        #expect(s.line(now: 65_000).contains("cannot ship (connection refused"))
        #expect(s.line(now: 65_000).contains("backlog 12 rows"))
    }
}
