import Foundation
import GRDB
import HistModel
import HistTestSupport
import HistStore
import Testing
@testable import HistReports

/// Every report query must reach events, snapshots and instances through an index: no full scan.
@Suite struct QueryPlanTests {
    static let guarded = ["events", "snapshots", "instances"]
    static let keywords: Set<String> = ["WHERE", "JOIN", "ON", "LEFT", "ORDER", "GROUP", "LIMIT", "USING", "WINDOW", "AS", "UNION", "INNER", "CROSS"]

    /// Aliases under which the guarded tables appear in `sql` or in the store's views (which the plan
    /// shows by their inner aliases), plus their own names.
    static func aliases(in query: String) -> Set<String> {
        let sql = query + "\n" + BundledSQL.migrations.map(\.sql).joined(separator: "\n")
        var out = Set(guarded)
        let pattern = try! NSRegularExpression(pattern: #"\b(events|snapshots|instances)\s+(?:AS\s+)?([A-Za-z_]\w*)"#)
        for m in pattern.matches(in: sql, range: NSRange(sql.startIndex..., in: sql)) {
            let alias = String(sql[Range(m.range(at: 2), in: sql)!])
            if !keywords.contains(alias.uppercased()) { out.insert(alias) }
        }
        return out
    }

    @Test func noFullScansOnAGeneratedHistory() throws {
        let dir = SampleHistory.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/gen.db"
        let summary = try HistoryFixture.generate(at: path, size: .small, end: Timestamp(milliseconds: SampleHistory.t0))
        #expect(summary.events > 1000)
        #expect(summary.snapshots > 1000)
        let db = try ReportDatabase(path: path)
        let scope = ReportScope(since: Timestamp(milliseconds: SampleHistory.t0 - 86_400_000), until: Timestamp(milliseconds: SampleHistory.t0),
                                programs: [], now: Timestamp(milliseconds: SampleHistory.t0))
        var args = scope.rollupArguments
        args["window_ms"] = 600_000
        args["min_crashes"] = 3
        // loops.sql: the whole hours it reads from loop_hours (Reports.loopRollupHours for this scope).
        let loopHours = Reports.loopRollupHours(db, scope, window: .seconds(600), minCrashes: 3)
        args["loop_from"] = loopHours.0
        args["loop_until"] = loopHours.1
        let loopDays = Reports.loopRollupDays(from: loopHours.0, until: loopHours.1, hasDays: db.hasDayRollups)
        args["day_from"] = loopDays.0
        args["day_until"] = loopDays.1
        args["days"] = db.hasDayRollups ? 1 : 0
        // status.sql: the whole minutes it reads from restart_minutes (Reports.restartRollupMinutes).
        let restartMinutes = Reports.restartRollupMinutes(now: SampleHistory.t0, hasRollup: db.hasRestartRollup)
        args["rm_from"] = restartMinutes.0
        args["rm_until"] = restartMinutes.1
        args["older_than_ms"] = 3_600_000
        args["at"] = SampleHistory.t0 - 3_600_000
        args["sort"] = "cpu"
        args["limit"] = 20
        args["buckets"] = 40
        args["min_scans"] = 2
        args["min_duration_ms"] = 0
        args["min_zombies"] = 1
        for (name, _) in Reports.catalog {
            let sql = try #require(BundledSQL.query(name))
            let bad = Self.aliases(in: sql)
            let details = try db.read { d in
                try Row.fetchAll(d, sql: "EXPLAIN QUERY PLAN " + sql, arguments: StatementArguments(args)).map { $0["detail"] as String }
            }
            for detail in details {
                let words = detail.split(separator: " ")
                if words.first == "SCAN", words.count >= 2 {
                    #expect(!bad.contains(String(words[1])), "\(name): \(detail)")
                }
            }
            // And it runs.
            _ = try db.run(sql: sql, arguments: args, columns: nil, label: name)
        }
        // The generated history is realistic enough for the reports to find things.
        #expect(try !Reports.crashes(db, scope).isEmpty)
        #expect(try !Reports.loops(db, ReportScope(since: summary.start, until: summary.end), window: .seconds(86_400), minCrashes: 3).isEmpty)
        #expect(try !Reports.status(db, scope).isEmpty)
        let pm = try Postmortem.build(db, ReportScope(since: summary.start, until: summary.end))
        #expect(pm.incomplete.count >= 2)
    }
}

/// The fixture follows the store's conventions for a histd that died: its run closed at its last event.
@Suite struct FixtureConventionTests {
    @Test func uncleanRunIsClosedLikeTheStoreDoes() throws {
        let dir = SampleHistory.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/runs.db"
        let size = HistoryFixture.Size(programs: 4, poolEvery: 4, poolWorkers: 2, days: 15, cyclesPerDay: 24,
                                       snapshotEvery: .seconds(3600), snapshotDays: 15, scanEvery: .seconds(3600), wal: false)
        let summary = try HistoryFixture.generate(at: path, size: size, end: Timestamp(milliseconds: SampleHistory.t0))
        let db = try ReportDatabase(path: path)
        let whole = ReportScope(since: summary.start, until: summary.end)
        let runs = try db.run(query: "runs", arguments: whole.arguments, columns: Reports.runColumns)
        #expect(runs.rows.map { $0[6] } == [.text("clean"), .text("unclean"), .null])
        // stopped_at is the dead run's last ordinary event, and a supervisor_stop {"reason":"unclean"} sits there.
        let check = try AdHocSQL.run(db, sql: """
            SELECT r.stopped_at = (SELECT MAX(ts) FROM events WHERE run_id = r.id AND kind <> 14),
                   (SELECT json_extract(detail, '$.reason') FROM events WHERE kind = 14 AND run_id = r.id),
                   (SELECT COUNT(*) FROM events WHERE kind IN (1, 2, 3, 4) AND ts > r.stopped_at
                      AND ts < (SELECT started_at FROM runs WHERE id = r.id + 1)),
                   (SELECT COUNT(*) FROM events WHERE kind = 16)
            FROM runs r WHERE r.stop_reason = 'unclean'
            """)
        #expect(check.rows.count == 1)
        #expect(check.rows.first?[0] == .integer(1))
        #expect(check.rows.first?[1] == .text("unclean"))
        #expect(check.rows.first?[2] == .integer(0))          // nothing recorded while histd was dead
        #expect(check.rows.first.map { $0[3] != .integer(0) } == true)  // its live processes found as leftovers
        let pm = try Postmortem.build(db, whole)
        #expect(pm.incomplete.contains { $0.reason.contains("histd run 2 ended uncleanly") })
        #expect(pm.incomplete.filter { $0.reason.contains("recording_gap: queue_full") }.count == 2)
        // restart_scheduled points at the instance that ended, as the writer does.
        let orphanRestarts = try AdHocSQL.run(db, sql: "SELECT COUNT(*) FROM events WHERE kind = 4 AND instance_id IS NULL")
        #expect(orphanRestarts.rows == [[.integer(0)]])
    }
}
