import Foundation
import GRDB
import HistModel
import Synchronization
import Testing
import TestThreads
@testable import HistStore

/// Storage faults never stop the writer for good: a database that cannot be opened at start is opened
/// later, a file deleted or replaced underneath is recreated, and each outage is recorded once, with one
/// state line per change (not per retry).
@Suite(.serialized, .blocking) struct StorageFaultTests {
    final class Notices: Sendable {
        let all = Mutex<[StorageNotice]>([])
        func add(_ n: StorageNotice) { all.withLock { $0.append(n) } }
        var states: [StorageNotice.State] { all.withLock { $0.map(\.state) } }
    }

    func request(_ programs: [String] = ["web"]) throws -> RunRequest {
        RunRequest(host: "testhost", pid: 4242, version: "0.1-test", configPath: nil, configHash: "abc", bootID: "boot-1",
                       programs: programs.map { ProgramSpec(name: $0, command: ["/bin/true"]) }, pools: [], at: ts(0))
    }

    func options(_ notices: Notices, checkEvery: Duration = .milliseconds(50)) -> HistoryWriter.Options {
        var o = HistoryWriter.Options(retryInitial: .milliseconds(5), retryMax: .milliseconds(40))
        o.fileCheckEvery = checkEvery
        o.onStorageState = { notices.add($0) }
        return o
    }

    func startAndEnd(_ n: Int) -> [HistEvent] {
        let i = info(InstanceID(n), "web", pid: Int32(500 + n), ticks: UInt64(n), at: Int64(n * 10))
        return [HistEvent(time: ts(Int64(n * 10)), program: "web", payload: .started(i)),
                ended(i, at: Int64(n * 10 + 5), .exited(code: 1), .crash)]
    }

    @Test func aDatabaseThatCannotBeOpenedAtStartIsOpenedLaterWithTheOutageRecorded() throws {
        let dir = TempDir()
        // The database's folder cannot be created: a regular file sits where it should be.
        let blocker = dir.file("state")
        try "x".write(toFile: blocker, atomically: true, encoding: .utf8)
        let path = blocker + "/histd/h.db"
        let (store, deferred) = try HistoryStore.openOrDefer(path: path)
        #expect(deferred?.code == .cannotOpen, "\(String(describing: deferred))")
        let notices = Notices()
        let w = store.startWriter(beginning: try request(), options: options(notices))
        for n in 1...3 { for e in startAndEnd(n) { w.record(e) } }
        #expect(waitUntil { w.stats.writeErrors >= 5 }, "the writer keeps retrying")
        #expect(notices.states == [.cannotOpen], "one line for the state, not one per retry: \(notices.states)")
        #expect(w.runID == nil)

        // The folder can be created now: the run, everything held, and the outage are written.
        try FileManager.default.removeItem(atPath: blocker)
        #expect(w.waitForRun(timeout: .seconds(20)) != nil)
        #expect(w.flush(timeout: .seconds(20)))
        #expect(notices.states == [.cannotOpen, .recovered], "\(notices.states)")
        try store.endRun(reason: .clean)
        store.close()

        let r = try reader(path)
        #expect(try count(r, "SELECT count(*) FROM runs WHERE stop_reason = 'clean'") == 1)
        #expect(try count(r, "SELECT count(*) FROM instances WHERE class = 'crash'") == 3, "nothing held was lost")
        let outages = try r.read { try Row.fetchAll($0, sql: "SELECT states, held, dropped, from_ms, to_ms, duration_ms, run_id FROM storage_outages") }
        #expect(outages.count == 1)
        let o = try #require(outages.first)
        #expect(o["states"] as String? == "cannot_open")
        #expect((o["held"] as Int64? ?? 0) >= 6, "the 6 events waited in memory")
        #expect(o["dropped"] as Int64? == 0)
        #expect((o["to_ms"] as Int64? ?? 0) - (o["from_ms"] as Int64? ?? 0) == o["duration_ms"] as Int64?)
        let runID = try count(r, "SELECT max(id) FROM runs")
        #expect(o["run_id"] as Int64? == Int64(runID), "the outage belongs to the run it was recorded in")
        #expect(try count(r, "SELECT count(*) FROM recording_gaps") == 0, "nothing was dropped")
    }

    @Test func aFileThatHistdRefusesIsNeverDeferred() throws {
        let dir = TempDir()
        let path = dir.file("other.db")
        let q = try DatabaseQueue(path: path)
        try q.write { try $0.execute(sql: "CREATE TABLE mine (x)") }
        try q.close()
        #expect(throws: HistoryStoreError.self) { _ = try HistoryStore.openOrDefer(path: path) }
    }

    /// `checkEvery`: the writer's timer. An hour means no timed check can happen during the test, so
    /// only the folder watch (DatabaseFileWatch) can notice the change.
    /// `keepSidecars`: a replacement that leaves the lost file's `-wal` and `-shm` where they are, as a plain
    /// `mv new.db h.db` does; histd must not let SQLite replay the lost file's log into the new one.
    /// `lostReader`: another connection on the lost file, which keeps its log alive after histd closes it.
    func fileChanged(replace: Bool, checkEvery: Duration = .milliseconds(50), keepSidecars: Bool = false,
                     lostReader: LostReader = .none, moveAway: Bool = false) throws {
        let dir = TempDir()
        let path = dir.file("h.db")
        let (store, deferred) = try HistoryStore.openOrDefer(path: path)
        #expect(deferred == nil)
        let notices = Notices()
        let w = store.startWriter(beginning: try request(), options: options(notices, checkEvery: checkEvery))
        let first = try #require(w.waitForRun(timeout: .seconds(20)))
        var readOnly = Configuration()
        readOnly.readonly = true
        var other = lostReader == .none ? nil : try DatabasePool(path: path, configuration: readOnly)
        defer { try? other?.close() }
        // A snapshot from before instance 1 was written: no checkpoint can copy its pages into the lost file
        // while it lasts, so the lost file's log is not complete there and must be kept aside, not replayed.
        var snapshot = lostReader == .holdingASnapshot ? try other?.makeSnapshot() : nil
        if lostReader == .idle { _ = try other?.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM runs") } }
        for e in startAndEnd(1) { w.record(e) }
        #expect(w.flush(timeout: .seconds(20)))
        let before = DatabaseSlot.identity(of: path)
        // Idle from here until the change: the writer sleeps, nothing is committed.
        usleep(300_000)
        let changedAtMs = Timestamp.now().milliseconds

        if replace {
            // Another (empty) file put in its place in one rename, as a careless restore would.
            let other = dir.file("new.db")
            FileManager.default.createFile(atPath: other, contents: nil)
            if !keepSidecars { for suffix in ["-wal", "-shm"] { unlink(path + suffix) } }
            // A rotation: the old file kept under another name (a hard link first, so that the replacement
            // below is one atomic rename, as `ln h.db old.db && mv new.db h.db` does), a new one in its place.
            if moveAway { #expect(link(path, dir.file("moved.db")) == 0) }
            #expect(rename(other, path) == 0)
        } else if moveAway {
            // `mv h.db /somewhere/else.db`: the file lives on under another name, without its -wal.
            #expect(rename(path, dir.file("moved.db")) == 0)
        } else {
            for suffix in ["", "-wal", "-shm"] { unlink(path + suffix) }
        }
        let kind: StorageNotice.State = moveAway ? .moved : replace ? .replaced : .deleted
        #expect(waitUntil(timeout: 20) { notices.states.contains(.recovered) }, "\(notices.states)")
        #expect(notices.states == [kind, .recovered], "\(notices.states)")
        for e in startAndEnd(2) { w.record(e) }
        #expect(w.flush(timeout: .seconds(20)))
        #expect(store.runID != nil)
        try store.endRun(reason: .clean)
        store.close()

        // (Not compared with the new file's inode: the lost one is freed when histd closes it, and the new
        // file may get the same number.)
        let r = try reader(path)
        // This run is recorded again in the new file, with the loss and the facts after it.
        #expect(try count(r, "SELECT count(*) FROM runs WHERE started_at = ? AND stop_reason = 'clean'", [T0]) == 1)
        let o = try #require(try r.read { try Row.fetchOne($0, sql: "SELECT states, lost_written, lost_inode, run_id, from_ms FROM storage_outages") })
        // The outage starts when the name changed (the watch saw it), not at the writer's last commit
        // or check before it.
        let fromMs = try #require(o["from_ms"] as Int64?)
        #expect(fromMs >= changedAtMs && fromMs <= changedAtMs + 5_000, "from_ms \(fromMs), changed at \(changedAtMs)")
        #expect(o["states"] as String? == kind.rawValue)
        #expect((o["lost_written"] as Int64? ?? 0) >= 2, "the start and end written to the lost file")
        #expect(o["lost_inode"] as Int64? == before.map { Int64(bitPattern: $0.inode) })
        #expect(try count(r, "SELECT count(*) FROM instances WHERE pid = 502 AND class = 'crash'") == 1)
        // Nothing of the lost file's in the new one: one run (no unended copy of it from a replayed log),
        // and not the instance written before the change.
        #expect(try count(r, "SELECT count(*) FROM runs") == 1)
        #expect(try count(r, "SELECT count(*) FROM instances WHERE pid = 501") == 0)
        if lostReader == .idle, let other {
            // The other connection still reads the lost file, not the new file's log through a shared -shm.
            #expect(try other.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM instances WHERE pid = 501") } == 1)
        }
        let kept = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.contains(".lost-") }
        let line = notices.all.withLock { $0.first?.line } ?? ""
        let movedPath = dir.file("moved.db")
        if lostReader == .holdingASnapshot && moveAway {
            // The moved file's last pages could not be copied into it: its log is kept, and the notice says
            // how to add it back.
            #expect(kept.count == 1 && kept.first?.hasPrefix("h.db-wal.lost-") == true, "\(kept)")
            #expect(kept.allSatisfy { line.contains("its last pages are in \(dir.file($0))") }, "the notice names the log it kept: \(line)")
            // (The rotation is a hard link and a rename: the kernel knows no current name for the old one.)
            #expect(line.contains("rename that to <its new name>-wal to add them"), "\(line)")
        } else {
            #expect(kept.isEmpty, "a log that was complete in its file, or whose file is gone, is removed, not kept: \(kept)")
        }
        if moveAway {
            // A plain rename is followed to the file's new name; after a hard link and a rename over the
            // old name the kernel knows no current name for it.
            let what = replace ? "was moved away and another file put in its place" : "was moved away"
            let whereNow = replace ? "under another name" : "as \(movedPath)"
            #expect(line.contains("\(what) while histd was writing it (it is still on disk \(whereNow), with the"), "\(line)")
            if let log = kept.first {
                // The notice's advice, followed once nothing has the file open.
                snapshot = nil
                try other?.close()
                other = nil
                #expect(rename(dir.file(log), movedPath + "-wal") == 0)
            }
            // Everything histd wrote before the move is in the moved file (its log was checkpointed into
            // it, or added back as the notice says), though the move left the log behind under the old name.
            let moved = try reader(movedPath)
            #expect(try count(moved, "SELECT count(*) FROM instances WHERE pid = 501 AND class = 'crash'") == 1)
            try moved.close()
        }
        _ = (first, snapshot)
    }

    enum LostReader { case none, idle, holdingASnapshot }

    @Test func aDeletedDatabaseIsRecreatedAndTheLossRecorded() throws { try fileChanged(replace: false) }
    @Test func aReplacedDatabaseIsReopenedAndTheLossRecorded() throws { try fileChanged(replace: true) }
    @Test func aDatabaseReplacedByARenameThatLeavesItsLogIsReopenedClean() throws {
        try fileChanged(replace: true, keepSidecars: true)
    }
    @Test func aReplacedDatabaseStillReadElsewhereIsReopenedClean() throws {
        try fileChanged(replace: true, keepSidecars: true, lostReader: .idle)
    }
    @Test func aReplacedDatabaseWhoseLogCannotBeCheckpointedIsReopenedClean() throws {
        try fileChanged(replace: true, keepSidecars: true, lostReader: .holdingASnapshot)
    }
    @Test func aRotatedDatabaseWhoseLogCannotBeCheckpointedKeepsTheLogAside() throws {
        try fileChanged(replace: true, keepSidecars: true, lostReader: .holdingASnapshot, moveAway: true)
    }
    @Test func aDatabaseMovedAwayKeepsWhatWasWrittenToIt() throws {
        try fileChanged(replace: false, moveAway: true)
    }
    @Test func aRotatedDatabaseKeepsWhatWasWrittenToItAndTheNewFileStartsClean() throws {
        try fileChanged(replace: true, keepSidecars: true, moveAway: true)
    }
    @Test func anIdleWriterNoticesADeletedDatabaseWithoutItsTimer() throws {
        try fileChanged(replace: false, checkEvery: .seconds(3600))
    }
    @Test func anIdleWriterNoticesAReplacedDatabaseWithoutItsTimer() throws {
        try fileChanged(replace: true, checkEvery: .seconds(3600))
    }
}
