import Foundation
import HistModel
import HistStore
import Testing
@testable import HistReports

/// `histctl status` keeps the last meaningful state and counts only restarts that happened, on a history
/// written by the real writer: a shutdown cancels a scheduled restart and must not turn "failed" into
/// "stopped".
@Suite struct StatusTruthTests {
    static func at(_ ms: Int64) -> Timestamp { WriterContractTests.at(ms) }

    static func info(_ id: InstanceID, _ program: String, _ started: Int64, _ worker: Int?) -> InstanceInfo {
        InstanceInfo(id: id, program: program, workerIndex: worker,
                     identity: ProcessIdentity(pid: Int32(700 + id), startTicks: UInt64(id)), startedAt: at(started))
    }

    /// One supervisor run of `programs` and `pools` from 0 to 10 s that recorded `events`, through the real writer.
    static func write(_ events: [HistEvent], to path: String, programs: [ProgramSpec], pools: [PoolSpec] = []) throws {
        let store = try HistoryStore.open(path: path)
        _ = try store.beginRun(host: "h", pid: 1, version: "0.1.0", configPath: nil, configHash: nil, bootID: nil,
                               programs: programs, pools: pools, at: at(0))
        let writer = store.startWriter()
        for e in events { writer.record(e) }
        #expect(writer.flush(timeout: .seconds(10)))
        try store.endRun(reason: .clean, at: at(10_000))
        store.close()
    }

    @Test func giveUpSurvivesShutdownAndCancelledRestartsDoNotCount() throws {
        let dir = SampleHistory.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/status.db"
        let pool = PoolSpec(worker: ProgramSpec(name: "jobs", command: ["/bin/sleep", "9"]), minWorkers: 1, maxWorkers: 1)
        let info = Self.info
        let svc1 = info(1, "svc", 1000, nil), svc2 = info(2, "svc", 7000, nil), gone = info(3, "gone", 1000, nil)
        let job = info(4, "jobs", 1000, 0)
        let events: [HistEvent] = [
            HistEvent(time: svc1.startedAt, program: "svc", payload: .started(svc1)),
            HistEvent(time: gone.startedAt, program: "gone", payload: .started(gone)),
            HistEvent(time: job.startedAt, program: "jobs", payload: .started(job)),
            WriterContractTests.ended(svc1, at: 2000, .exited(code: 1), .crash, stderr: "x"),
            // Restarted 5 s later: a restart that happened.
            HistEvent(time: Self.at(2000), program: "svc", payload: .restartScheduled(instance: svc1, delay: .seconds(5), attempt: 1, workerIndex: nil)),
            HistEvent(time: svc2.startedAt, program: "svc", payload: .started(svc2)),
            WriterContractTests.ended(svc2, at: 8000, .exited(code: 1), .crash, stderr: "x"),
            // Scheduled for 30 s later, but histd shuts down first: cancelled.
            HistEvent(time: Self.at(8000), program: "svc", payload: .restartScheduled(instance: svc2, delay: .seconds(30), attempt: 2, workerIndex: nil)),
            WriterContractTests.ended(gone, at: 3000, .exited(code: 2), .crash, stderr: "y"),
            HistEvent(time: Self.at(3000), program: "gone", payload: .gaveUp(instance: gone, restarts: 0, workerIndex: nil)),
            HistEvent(time: Self.at(9000), program: "jobs", payload: .stopRequested(instance: job, reason: .shutdown, signal: 15)),
            WriterContractTests.ended(job, at: 9500, .signaled(signal: 15, coreDumped: false), .stopped, stderr: ""),
        ]
        try Self.write(events, to: path, programs: [ProgramSpec(name: "svc", command: ["/bin/false"]),
                                                    ProgramSpec(name: "gone", command: ["/bin/false"])], pools: [pool])

        let db = try ReportDatabase(path: path)
        let s = try Reports.status(db, ReportScope(since: Self.at(0), until: Self.at(60_000), now: Self.at(60_000)))
        let byName = Dictionary(uniqueKeysWithValues: s.rows.indices.map { (s.value($0, "program"), $0) })
        let svc = try #require(byName[.text("svc")]), g = try #require(byName[.text("gone")]), j = try #require(byName[.text("jobs")])
        #expect(s.value(g, "state") == .text("failed"))
        #expect(s.value(svc, "state") == .text("stopped"))
        #expect(s.value(svc, "restarts_1h") == .integer(1))
        #expect(s.value(svc, "workers") == .null)
        #expect(s.value(g, "workers") == .null)
        #expect(s.value(j, "workers") == .integer(0))
        #expect(s.value(j, "state") == .text("stopped"))
    }

    /// A restart with no delay whose start has the same millisecond as its restart_scheduled happened: the
    /// start may be at the restart's own time. Counted both where status reads events (a "now" within the
    /// minute's reach) and where it reads the restart_minutes rollup (a "now" long after).
    @Test func aStartInTheSameMillisecondAsItsRestartCounts() throws {
        let dir = SampleHistory.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/status.db"
        let first = Self.info(1, "svc", 1000, nil), second = Self.info(2, "svc", 2000, nil)
        try Self.write([
            HistEvent(time: first.startedAt, program: "svc", payload: .started(first)),
            WriterContractTests.ended(first, at: 2000, .exited(code: 1), .crash, stderr: "x"),
            HistEvent(time: Self.at(2000), program: "svc", payload: .restartScheduled(instance: first, delay: .zero, attempt: 1, workerIndex: nil)),
            HistEvent(time: second.startedAt, program: "svc", payload: .started(second)),
        ], to: path, programs: [ProgramSpec(name: "svc", command: ["/bin/false"])])

        let db = try ReportDatabase(path: path)
        for now: Int64 in [2000, 60_000, 600_000] {
            let s = try Reports.status(db, ReportScope(since: Self.at(0), until: Self.at(now), now: Self.at(now)))
            #expect(s.rows.count == 1)
            #expect(s.value(0, "restarts_1h") == .integer(1), "now = at(\(now))")
        }
    }
}
