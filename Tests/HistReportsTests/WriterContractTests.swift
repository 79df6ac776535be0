import Foundation
import HistModel
import HistStore
import Testing
@testable import HistReports

/// The contract between the real writer (HistoryStore + HistoryWriter) and the reports: events recorded
/// the way histd records them come back out of crashes, breaches, loops, status and the postmortem.
@Suite struct WriterContractTests {
    static let t0 = SampleHistory.t0
    static func at(_ offsetMs: Int64) -> Timestamp { Timestamp(milliseconds: t0 + offsetMs) }

    static func instance(_ id: InstanceID, _ program: String, pid: Int32, ticks: UInt64, started: Int64) -> InstanceInfo {
        InstanceInfo(id: id, program: program, identity: ProcessIdentity(pid: pid, startTicks: ticks), startedAt: at(started))
    }

    static func ended(_ info: InstanceInfo, at endMs: Int64, _ status: HistModel.ExitStatus, _ cls: ExitClassification, stderr: String) -> HistEvent {
        HistEvent(time: at(endMs), program: info.program, payload: .ended(InstanceEnd(
            instance: info, endedAt: at(endMs), status: status, classification: cls,
            uptime: .milliseconds(endMs - (info.startedAt.milliseconds - t0)), stderrTail: stderr)))
    }

    /// What histd would record for: web crashing with SIGSEGV, then being stopped for memory, then running;
    /// batch exiting 3 and histd giving up on it.
    static func record(into writer: HistoryWriter) {
        let web1 = instance(1, "web", pid: 100, ticks: 5000, started: 1000)
        let web2 = instance(2, "web", pid: 101, ticks: 6000, started: 63_000)
        let web3 = instance(3, "web", pid: 102, ticks: 7000, started: 95_000)
        let batch = instance(4, "batch", pid: 300, ticks: 5100, started: 2000)
        let events: [HistEvent] = [
            HistEvent(time: at(1000), program: "web", payload: .started(web1)),
            HistEvent(time: at(2000), program: "batch", payload: .started(batch)),
            ended(web1, at: 61_000, .signaled(signal: 11, coreDumped: true), .crash, stderr: "segfault at 0x0\nbye"),
            HistEvent(time: at(61_000), program: "web", payload: .restartScheduled(instance: web1, delay: .seconds(2), attempt: 1, workerIndex: nil)),
            HistEvent(time: at(63_000), program: "web", payload: .started(web2)),
            HistEvent(time: at(90_000), program: "web", payload: .limitBreach(
                instance: web2, limit: .maxMemory, observed: 629_145_600, threshold: 536_870_912, action: .stop)),
            HistEvent(time: at(90_001), program: "web", payload: .stopRequested(instance: web2, reason: .limit, signal: 15)),
            ended(web2, at: 91_000, .signaled(signal: 15, coreDumped: false), .limit, stderr: ""),
            HistEvent(time: at(91_000), program: "web", payload: .restartScheduled(instance: web2, delay: .seconds(4), attempt: 2, workerIndex: nil)),
            HistEvent(time: at(95_000), program: "web", payload: .started(web3)),
            ended(batch, at: 100_000, .exited(code: 3), .crash, stderr: "error: bad config\n"),
            // A cgroup tasks_max that refused 1,832 forks since the previous poll, with 8 tasks in the group.
            HistEvent(time: at(105_000), program: "web", payload: .limitBreach(
                instance: web3, limit: .tasksMax, observed: 8, threshold: 8, action: .forkRefused, refused: 1832)),
            HistEvent(time: at(110_000), program: "batch", payload: .gaveUp(instance: batch, restarts: 5, workerIndex: nil)),
        ]
        for e in events { writer.record(e) }
    }

    @Test func reportsReadWhatTheWriterWrote() throws {
        let dir = SampleHistory.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/written.db"
        let store = try HistoryStore.open(path: path)
        _ = try store.beginRun(host: "test-host", pid: 4242, version: "0.1.0", configPath: nil, configHash: nil, bootID: nil,
                               programs: [], pools: [], at: Self.at(0))
        let writer = store.startWriter()
        Self.record(into: writer)
        #expect(writer.flush(timeout: .seconds(10)))

        let db = try ReportDatabase(path: path)
        let scope = ReportScope(since: Self.at(0), until: Self.at(600_000), now: Self.at(120_000))

        let crashes = try Reports.crashes(db, scope)
        #expect(crashes.rows.count == 3)
        // web, SIGSEGV with a core, restarted after 2 s.
        #expect(crashes.value(0, "time") == .time(Self.at(61_000)))
        #expect(crashes.value(0, "program") == .text("web"))
        #expect(crashes.value(0, "pid") == .integer(100))
        #expect(crashes.value(0, "exit_code") == .null)
        #expect(crashes.value(0, "signal") == .text("SIGSEGV"))
        #expect(crashes.value(0, "core_dumped") == .bool(true))
        #expect(crashes.value(0, "uptime_s") == .real(60.0))
        #expect(crashes.value(0, "restart_delay_s") == .real(2.0))
        #expect(crashes.value(0, "reason") == .text("crash"))
        #expect(crashes.value(0, "stderr_tail") == .text("segfault at 0x0\nbye"))
        // web stopped for its memory limit (SIGTERM from histd), restarted after 4 s; empty stderr is NULL.
        #expect(crashes.value(1, "pid") == .integer(101))
        #expect(crashes.value(1, "reason") == .text("limit"))
        #expect(crashes.value(1, "signal") == .text("SIGTERM"))
        #expect(crashes.value(1, "restart_delay_s") == .real(4.0))
        #expect(crashes.value(1, "stderr_tail") == .null)
        // batch exited 3 and histd gave up: no restart delay.
        #expect(crashes.value(2, "program") == .text("batch"))
        #expect(crashes.value(2, "exit_code") == .integer(3))
        #expect(crashes.value(2, "signal") == .null)
        #expect(crashes.value(2, "restart_delay_s") == .null)
        #expect(crashes.value(2, "stderr_tail") == .text("error: bad config\n"))

        let summary = try Reports.crashes(db, scope, summary: true)
        #expect(summary.value(0, "program") == .text("web"))
        #expect(summary.value(0, "crashes") == .integer(2))
        #expect(summary.value(0, "limit_kills") == .integer(1))

        let breaches = try Reports.breaches(db, scope)
        #expect(breaches.rows == [[.time(Self.at(90_000)), .text("web"), .integer(101), .text("max_memory_mb"),
                                   .integer(629_145_600), .integer(536_870_912), .text("stop"), .null],
                                  [.time(Self.at(105_000)), .text("web"), .integer(102), .text("tasks_max"),
                                   .integer(8), .integer(8), .text("fork_refused"), .integer(1832)]])
        // Tables show memory in MiB (the unit of max_memory_mb), tasks as counts.
        let table = BreachTable.forTable(breaches)
        #expect(table.value(0, "value") == .text("600 MiB"))
        #expect(table.value(0, "threshold") == .text("512 MiB"))
        #expect(table.value(1, "value") == .integer(8))

        let loops = try Reports.loops(db, scope, window: .seconds(600), minCrashes: 2)
        #expect(loops.rows.count == 1)
        #expect(loops.value(0, "program") == .text("web"))
        #expect(loops.value(0, "crashes") == .integer(2))
        #expect(loops.value(0, "max_restart_delay_s") == .real(4.0))
        #expect(loops.value(0, "state") == .text("running"))

        let status = try Reports.status(db, scope, supervisor: .alive)
        #expect(status.rows.map { $0[0] } == [.text("batch"), .text("web")])
        #expect(status.value(0, "state") == .text("failed"))
        #expect(status.value(0, "last_exit_code") == .integer(3))
        #expect(status.value(1, "state") == .text("running"))
        #expect(status.value(1, "pid") == .integer(102))
        #expect(status.value(1, "uptime_s") == .real(25.0))
        #expect(status.value(1, "restarts_1h") == .integer(2))
        #expect(status.value(1, "last_exit_class") == .text("limit"))
        #expect(status.value(1, "last_signal") == .text("SIGTERM"))
        #expect(status.value(1, "last_event") == .time(Self.at(110_000)))
        #expect(status.value(1, "run_open") == .bool(true))

        // histd dies (its run stays open); the next start closes it as unclean at its last event.
        store.close()
        let next = try HistoryStore.open(path: path)
        let start = try next.beginRun(host: "test-host", pid: 4343, version: "0.1.0", configPath: nil, configHash: nil,
                                      bootID: nil, programs: [], pools: [], at: Self.at(300_000))
        #expect(start.closedRuns.map(\.stoppedAt) == [Self.at(110_000)])
        try next.endRun(reason: .clean, at: Self.at(400_000))
        next.close()

        let after = try ReportDatabase(path: path)
        let pm = try Postmortem.build(after, scope)
        #expect(pm.incomplete.count == 1)
        #expect(pm.incomplete.first?.from == Self.at(110_000))
        #expect(pm.incomplete.first?.until == Self.at(300_000))
        #expect(pm.incomplete.first?.reason.contains("histd run 1 ended uncleanly") == true)
        #expect(pm.runs.rows.map { $0[6] } == [.text("unclean"), .text("clean")])
        #expect(pm.crashes.rows.count == 3)
        #expect(pm.breaches.rows.count == 2)
        // Every recorded event is on the timeline: 13 above, 2 supervisor_start, 2 supervisor_stop.
        #expect(pm.timeline.rows.count == 17)
        let kinds = pm.timeline.rows.map { $0[1] }
        #expect(kinds.contains(.text("supervisor_stop")))
        // After the shutdown, the program histd gave up on is still failed (not "stopped"); web's last
        // process has no recorded end and its run is over: unknown.
        let later = try Reports.status(after, ReportScope(since: Self.at(0), until: Self.at(500_000), now: Self.at(500_000)))
        #expect(later.value(0, "program") == .text("batch"))
        #expect(later.value(0, "state") == .text("failed"))
        #expect(later.value(1, "state") == .text("unknown"))
        #expect(later.value(1, "workers") == .null)
    }

    @Test func pruneDeletesOldRowsThroughTheStore() throws {
        let dir = SampleHistory.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/h.db"
        try SampleHistory.create(at: path)
        // now = 10:30Z; keep 30 min of events (from 10:00Z) and snapshots from 10:00:45Z (sweep 3 at 10:00:50Z).
        let now = Timestamp(milliseconds: Self.t0 + 1_800_000)
        let r = try Pruning.prune(path: path, now: now, retention: .seconds(1800), snapshotRetention: .seconds(1755))
        func deleted(_ table: String) -> ReportValue? {
            r.rows.first { $0[0] == .text(table) }?[1]
        }
        #expect(r.columns.map(\.name) == ["table", "deleted", "older_than"])
        // Events before 10:00Z: runs 1 and 2 starts, the unclean stop, web's first crash, 5 process starts.
        #expect(deleted("events") == .integer(9))
        #expect(deleted("instances") == .integer(1))        // the 09:30 crash (ended before 10:00)
        #expect(deleted("sweeps") == .integer(2))
        #expect(deleted("snapshots") == .integer(4))
        #expect(deleted("scans") == .integer(0))
        #expect(r.value(0, "older_than") == .time(Timestamp(milliseconds: Self.t0)))
        let db = try ReportDatabase(path: path)
        #expect(try AdHocSQL.run(db, sql: "SELECT COUNT(*) FROM events").rows == [[.integer(15)]])
        #expect(try AdHocSQL.run(db, sql: "SELECT COUNT(*) FROM runs").rows == [[.integer(2)]])
    }

    @Test func pruneNeverCreatesOrInitializesAFile() throws {
        let dir = SampleHistory.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(throws: ReportError.self) {
            try Pruning.prune(path: dir + "/missing.db", retention: .seconds(60), snapshotRetention: .seconds(60))
        }
        #expect(!FileManager.default.fileExists(atPath: dir + "/missing.db"))
        _ = FileManager.default.createFile(atPath: dir + "/empty.db", contents: Data())
        do {
            _ = try Pruning.prune(path: dir + "/empty.db", retention: .seconds(60), snapshotRetention: .seconds(60))
            Issue.record("pruned an empty file")
        } catch {
            #expect(error.code == .emptyFile)
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: dir + "/empty.db")).isEmpty)
    }
}

/// A pool whose workers crash in a loop shows up in `loops` under the pool's name, with the worker indexes.
@Suite struct PoolLoopContractTests {
    @Test func poolCrashLoopNamesItsWorkers() throws {
        let dir = SampleHistory.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/pool.db"
        let store = try HistoryStore.open(path: path)
        let pool = PoolSpec(worker: ProgramSpec(name: "workers", command: ["/bin/false"]), minWorkers: 3, maxWorkers: 3)
        _ = try store.beginRun(host: "h", pid: 1, version: "0.1.0", configPath: nil, configHash: nil, bootID: nil,
                               programs: [], pools: [pool], at: WriterContractTests.at(0))
        let writer = store.startWriter()
        // Workers 0 and 2 crash twice each within a minute; worker 1 never crashes.
        var id: InstanceID = 0
        for (worker, start) in [(0, 1000), (2, 2000), (0, 11_000), (2, 12_000)] as [(Int, Int64)] {
            id += 1
            let info = InstanceInfo(id: id, program: "workers", workerIndex: worker,
                                    identity: ProcessIdentity(pid: Int32(500 + id), startTicks: UInt64(id)),
                                    startedAt: WriterContractTests.at(start))
            writer.record(HistEvent(time: info.startedAt, program: "workers", payload: .started(info)))
            writer.record(WriterContractTests.ended(info, at: start + 500, .exited(code: 1), .crash, stderr: "boom"))
            writer.record(HistEvent(time: WriterContractTests.at(start + 500), program: "workers",
                                    payload: .restartScheduled(instance: info, delay: .seconds(1), attempt: 1, workerIndex: worker)))
        }
        #expect(writer.flush(timeout: .seconds(10)))
        let db = try ReportDatabase(path: path)
        let scope = ReportScope(since: WriterContractTests.at(0), until: WriterContractTests.at(600_000),
                                now: WriterContractTests.at(60_000))
        let loops = try Reports.loops(db, scope, window: .seconds(600), minCrashes: 3)
        #expect(loops.rows.count == 1)
        #expect(loops.value(0, "program") == .text("workers"))
        #expect(loops.value(0, "crashes") == .integer(4))
        #expect(loops.value(0, "workers") == .text("0,2"))
        store.close()
    }
}
