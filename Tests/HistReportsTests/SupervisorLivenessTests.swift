import Foundation
import GRDB
import HistModel
import Testing
@testable import HistReports

/// `histctl status` when the record says histd runs: the kernel (a fake /proc here) decides.
@Suite struct SupervisorLivenessTests {
    let t0 = SampleHistory.t0
    func ts(_ offsetMs: Int64) -> Timestamp { Timestamp(milliseconds: t0 + offsetMs) }
    var scope: ReportScope { ReportScope(since: ts(-3_600_000), until: ts(3_600_000), now: ts(1_800_000)) }

    /// The sample history with its open run's start ticks set, and a fake /proc.
    func withSample(startTicks: Int64?, _ body: (ReportDatabase, String, Int32) throws -> Void) throws {
        let dir = SampleHistory.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try SampleHistory.create(at: dir + "/h.db")
        let pid: Int32 = try DatabaseQueue(path: dir + "/h.db").write { db in
            try db.execute(sql: "UPDATE runs SET start_ticks = ?, boot_id = NULL", arguments: [startTicks])
            return try Int32.fetchOne(db, sql: "SELECT pid FROM runs WHERE stopped_at IS NULL ORDER BY id DESC LIMIT 1")!
        }
        let proc = dir + "/proc"
        try FileManager.default.createDirectory(atPath: proc, withIntermediateDirectories: true)
        try body(try ReportDatabase(path: dir + "/h.db"), proc, pid)
    }

    func fakeProcess(_ proc: String, pid: Int32, state: String = "S", ticks: UInt64) throws {
        try FileManager.default.createDirectory(atPath: "\(proc)/\(pid)", withIntermediateDirectories: true)
        // Fields 3..22: state, then 18 fields, then starttime (field 22).
        let fields = [state] + Array(repeating: "0", count: 18) + [String(ticks)] + ["0", "0"]
        try "\(pid) (histd) \(fields.joined(separator: " "))\n".write(toFile: "\(proc)/\(pid)/stat", atomically: true, encoding: .utf8)
    }

    @Test func verdictComesFromPidAndStartTime() throws {
        try withSample(startTicks: 777) { db, proc, pid in
            #expect(try SupervisorLiveness.check(db, procRoot: proc).verdict == .dead, "no such pid")
            try fakeProcess(proc, pid: pid, ticks: 778)
            #expect(try SupervisorLiveness.check(db, procRoot: proc).verdict == .dead, "pid reused by another process")
            try fakeProcess(proc, pid: pid, ticks: 777)
            #expect(try SupervisorLiveness.check(db, procRoot: proc).verdict == .alive)
            try fakeProcess(proc, pid: pid, state: "Z", ticks: 777)
            #expect(try SupervisorLiveness.check(db, procRoot: proc).verdict == .dead, "a zombie is not running")
        }
        try withSample(startTicks: nil) { db, proc, pid in
            try fakeProcess(proc, pid: pid, ticks: 5)
            #expect(try SupervisorLiveness.check(db, procRoot: proc).verdict == .unknown, "no start time recorded")
        }
    }

    @Test func deadSupervisorNeverShowsRunning() throws {
        try withSample(startTicks: 1) { db, _, _ in
            let r = try Reports.status(db, scope, supervisor: .dead)
            let unknown = ReportValue.text("unknown (histd not running since 2026-11-21T10:15:00.000Z)")
            #expect(r.value(1, "state") == unknown)
            #expect(r.value(1, "pid") == .null)
            #expect(r.value(1, "uptime_s") == .null)
            #expect(r.value(2, "state") == unknown)
            #expect(r.value(0, "state") == .text("failed"), "ended states stay as recorded")
            #expect(!r.rows.contains { $0.contains(.text("running")) })
        }
    }
}
