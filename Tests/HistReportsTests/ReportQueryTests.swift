import Foundation
import GRDB
import HistModel
import HistStore
import Testing
@testable import HistReports

/// Each report's query on the hand-built sample history (see SampleHistory).
@Suite struct ReportQueryTests {
    let t0 = SampleHistory.t0
    func ts(_ offsetMs: Int64) -> Timestamp { Timestamp(milliseconds: t0 + offsetMs) }
    /// 09:00Z to 11:00Z, now = 10:30Z.
    var scope: ReportScope { ReportScope(since: ts(-3_600_000), until: ts(3_600_000), now: ts(1_800_000)) }

    func withSample(_ body: (ReportDatabase) throws -> Void) throws {
        let dir = SampleHistory.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try SampleHistory.create(at: dir + "/h.db")
        try body(try ReportDatabase(path: dir + "/h.db"))
    }

    @Test func everyQueryDeclaresItsColumnsInOrder() throws {
        try withSample { db throws in
            for (name, columns) in Reports.catalog {
                let sql = try #require(BundledSQL.query(name), "\(name).sql is embedded")
                #expect(sql.hasPrefix("-- \(name)"), "\(name).sql starts with its header comment")
                let names = try db.read { try $0.makeStatement(sql: sql).columnNames }
                #expect(names == columns.map(\.name), "\(name)")
            }
        }
    }

    @Test func crashesKeepReusedPidsApart() throws {
        try withSample { db throws in
            let r = try Reports.crashes(db, scope)
            #expect(r.rows.count == 5)
            // pid 100 was two different processes (start ticks 5000 and 9000): two rows.
            let pid100 = r.rows.indices.filter { r.value($0, "pid") == .integer(100) }
            #expect(pid100.count == 2)
            #expect(r.value(pid100[0], "exit_code") == .integer(2))
            #expect(r.value(pid100[0], "restart_delay_s") == .null)          // histd died before restarting
            #expect(r.value(pid100[0], "stderr_tail") == .text("boom \"quoted\"\nline2"))
            #expect(r.value(pid100[1], "signal") == .text("SIGSEGV"))
            #expect(r.value(pid100[1], "exit_code") == .null)
            #expect(r.value(pid100[1], "core_dumped") == .bool(true))
            #expect(r.value(pid100[1], "uptime_s") == .real(899.123))
            #expect(r.value(pid100[1], "restart_delay_s") == .real(1.0))
            #expect(r.value(pid100[1], "time") == .time(ts(123)))
            let limit = try #require(r.rows.indices.first { r.value($0, "reason") == .text("limit") })
            #expect(r.value(limit, "pid") == .integer(102))
            #expect(r.value(limit, "signal") == .text("SIGKILL"))
            #expect(r.value(limit, "restart_delay_s") == .real(4.0))
            let evil = try #require(r.rows.indices.first { r.value($0, "pid") == .integer(300) })
            #expect(r.value(evil, "program") == .text("evil'; DROP TABLE events; -- \"q\" 🚀"))
            #expect(r.value(evil, "restart_delay_s") == .null)             // gave up
            #expect(r.value(evil, "stderr_tail") == .text("'; DROP TABLE events; --\n💥 \"quoted\", comma"))
        }
    }

    @Test func crashFiltersByProgramAndRange() throws {
        try withSample { db throws in
            var s = scope
            s.programs = ["evil'; DROP TABLE events; -- \"q\" 🚀"]
            #expect(try Reports.crashes(db, s).rows.count == 1)
            s.programs = ["nope"]
            #expect(try Reports.crashes(db, s).rows.isEmpty)
            // Until is exclusive, since inclusive.
            let narrow = ReportScope(since: ts(123), until: ts(60_000), now: ts(0))
            #expect(try Reports.crashes(db, narrow).rows.map { $0[2] } == [.integer(100)])
        }
    }

    /// A table's newest N are picked by the query; the count gives the rest.
    @Test func newestCrashesAndCount() throws {
        try withSample { db throws in
            let all = try Reports.crashes(db, scope)
            let two = try Reports.crashes(db, scope, newest: 2)
            #expect(two.rows == Array(all.rows.suffix(2)))
            #expect(try Reports.crashes(db, scope, newest: 100).rows == all.rows)
            #expect(try Reports.crashCount(db, scope) == all.rows.count)
            var web = scope
            web.programs = ["web"]
            #expect(try Reports.crashCount(db, web) == 4)
            #expect(try Reports.crashes(db, web, newest: 1).value(0, "reason") == .text("limit"))
        }
    }

    @Test func crashSummary() throws {
        try withSample { db throws in
            let r = try Reports.crashes(db, scope, summary: true)
            #expect(r.rows.count == 2)
            #expect(r.value(0, "program") == .text("web"))
            #expect(r.value(0, "crashes") == .integer(4))
            #expect(r.value(0, "limit_kills") == .integer(1))
            #expect(r.value(0, "exit_codes") == .text("1,2"))
            #expect(r.value(0, "signals") == .text("SIGKILL,SIGSEGV"))
            #expect(r.value(0, "first") == .time(ts(-1_800_000)))
        }
    }

    @Test func loopsUseASlidingWindow() throws {
        try withSample { db throws in
            let r = try Reports.loops(db, scope, window: .seconds(600), minCrashes: 3)
            #expect(r.rows.count == 1)
            #expect(r.value(0, "program") == .text("web"))
            #expect(r.value(0, "crashes") == .integer(3))       // 09:30 is outside every 10-minute window of 3
            #expect(r.value(0, "first") == .time(ts(123)))
            #expect(r.value(0, "last") == .time(ts(120_000)))
            #expect(r.value(0, "longest_uptime_s") == .real(899.123))
            #expect(r.value(0, "max_restart_delay_s") == .real(4.0))
            #expect(r.value(0, "gave_up") == .bool(false))
            #expect(r.value(0, "state") == .text("running"))
            #expect(try Reports.loops(db, scope, window: .seconds(60), minCrashes: 3).isEmpty)
            // One crash is a "loop" of one for evil, which gave up.
            let ones = try Reports.loops(db, scope, window: .seconds(60), minCrashes: 1)
            let evil = try #require(ones.rows.indices.first { ones.value($0, "crashes") == .integer(1) && ones.value($0, "gave_up") == .bool(true) })
            #expect(ones.value(evil, "state") == .text("failed"))
        }
    }

    @Test func breachesReadTheDetailJSON() throws {
        try withSample { db throws in
            let r = try Reports.breaches(db, scope)
            #expect(r.rows == [[.time(ts(119_500)), .text("web"), .integer(102), .text("max_memory_mb"), .integer(629_145_600), .integer(536_870_912), .text("stop"), .null]])
        }
    }

    @Test func zombiesAndOrphans() throws {
        try withSample { db throws in
            let z = try Reports.zombies(db, scope)
            #expect(z.rows.count == 2)                        // same pid 500, two identities
            #expect(z.value(0, "parent_name") == .text("bad-reaper"))
            #expect(z.value(0, "duration_s") == .real(565.0))
            #expect(z.value(1, "parent_name") == .text("other"))
            let o = try Reports.orphans(db, scope, olderThan: .seconds(3600))
            #expect(o.rows.count == 1)
            #expect(o.value(0, "pid") == .integer(600))
            #expect(o.value(0, "alive") == .bool(true))
            #expect(o.value(0, "program") == .text("web"))
            #expect(o.value(0, "age_s") == .real(11_400.0))
            #expect(try Reports.orphans(db, scope, olderThan: .zero).rows.count == 2)
            let early = ReportScope(since: ts(-7_200_000), until: ts(-3_600_000))
            #expect(try Reports.zombies(db, early).isEmpty)
        }
    }

    @Test func statusDerivesLastKnownState() throws {
        try withSample { db throws in
            let r = try Reports.status(db, scope, supervisor: .alive)
            #expect(r.rows.map { $0[0] } == [.text("evil'; DROP TABLE events; -- \"q\" 🚀"), .text("web"), .text("workers")])
            #expect(r.value(0, "state") == .text("failed"))
            #expect(r.value(1, "state") == .text("running"))
            #expect(r.value(1, "pid") == .integer(103))
            #expect(r.value(1, "uptime_s") == .real(1676.0))
            #expect(r.value(1, "restarts_1h") == .integer(3))
            #expect(r.value(1, "last_exit_class") == .text("limit"))
            #expect(r.value(1, "last_signal") == .text("SIGKILL"))
            #expect(r.value(2, "state") == .text("running"))
            #expect(r.value(2, "workers") == .integer(1))
            #expect(r.value(2, "pid") == .null)
            #expect(r.value(1, "last_event") == .time(ts(900_000)))           // the recording_gap (ts = from_ms)
            #expect(r.value(1, "last_snapshot") == .time(ts(50_000)))
            #expect(r.value(1, "run_open") == .bool(true))
        }
    }

    @Test func topDerivesCPUFromTickDeltas() throws {
        try withSample { db throws in
            let top = try Reports.top(db, at: ts(41_000), sort: .cpu, limit: 10, programs: [])
            let (p, scan) = (top.processes, top.scan)
            #expect(top.sweep?.offset == .milliseconds(-1000))
            #expect(top.sweep?.interval == .seconds(10))
            #expect(top.sweep?.isNear == true)
            #expect(p.rows.count == 2)
            #expect(p.value(0, "time") == .time(ts(40_000)))
            #expect(p.value(0, "pid") == .integer(101))
            #expect(p.value(0, "cpu_pct") == .real(60.0))
            #expect(p.value(1, "cpu_pct") == .real(20.0))
            #expect(p.value(1, "worker") == .integer(0))
            let byRSS = try Reports.top(db, at: ts(41_000), sort: .rss, limit: 1, programs: []).processes
            #expect(byRSS.rows.count == 1)
            #expect(byRSS.value(0, "pid") == .integer(200))
            #expect(scan.value(0, "time") == .time(ts(35_000)))
            #expect(scan.value(0, "zombie") == .integer(2))
            // The first sample has no predecessor: no CPU%.
            let first = try Reports.top(db, at: ts(0), sort: .cpu, limit: 10, programs: ["web"]).processes
            #expect(first.rows.count == 1)
            #expect(first.value(0, "cpu_pct") == .null)
        }
    }

    /// A moment far from every sample gives no rows, and says where the nearest sample is (the docs' own
    /// example once showed samples from another day as if they were the state at --at).
    @Test func topRefusesASampleFarFromTheMoment() throws {
        try withSample { db throws in
            // Sweeps are 10 s apart: the tolerance is max(30 s, 1 min) = 1 min.
            let justOutside = try Reports.top(db, at: ts(30_000 - 60_001), sort: .cpu, limit: 10, programs: [])
            #expect(justOutside.processes.isEmpty)
            #expect(justOutside.sweep?.time == ts(30_000))
            #expect(justOutside.sweep?.tolerance == .seconds(60))
            #expect(justOutside.sweep?.isNear == false)
            let justInside = try Reports.top(db, at: ts(30_000 - 60_000), sort: .cpu, limit: 10, programs: [])
            #expect(justInside.processes.rows.count == 2)
            let old = try Reports.top(db, at: Timestamp(milliseconds: 1_577_836_800_000), sort: .cpu, limit: 10, programs: [])
            #expect(old.processes.isEmpty && old.scan.isEmpty)
            let notes = old.notes(zone: TimeZone(identifier: "UTC")!)
            #expect(notes.processes.contains("the nearest is at 2026-11-21 10:00:30 +00:00"), "\(notes.processes)")
            #expect(notes.processes.contains("no sampling sweep within 1m of 2020-01-01 00:00:00 +00:00"), "\(notes.processes)")
            #expect(notes.scan.contains("no system scan within"))
            // A pool worker by its log name.
            let worker = try Reports.top(db, at: ts(41_000), sort: .cpu, limit: 10, programs: ["workers.0"],
                                         workerPools: ["workers.0": "workers"])
            #expect(worker.processes.rows.count == 1)
            #expect(worker.processes.value(0, "pid") == .integer(200))
            let none = try Reports.top(db, at: ts(41_000), sort: .cpu, limit: 10, programs: ["workers.1"],
                                       workerPools: ["workers.1": "workers"])
            #expect(none.processes.isEmpty)
        }
    }

    @Test func postmortemCallsOutGapsAndUncleanEnds() throws {
        try withSample { db throws in
            let pm = try Postmortem.build(db, scope)
            #expect(pm.incomplete.count == 2)
            // histd run 1 died: nothing recorded from its last event (09:30) until run 2 started (09:45).
            #expect(pm.incomplete[0].from == ts(-1_800_000))
            #expect(pm.incomplete[0].until == ts(-900_000))
            #expect(pm.incomplete[1].from == ts(900_000))
            #expect(pm.incomplete[1].until == ts(1_199_000))
            #expect(pm.incomplete[1].reason == "17 records dropped (recording_gap: queue_full)")
            let md = pm.markdown(zone: TimeZone(identifier: "UTC")!)
            #expect(md.contains("The record is incomplete between 2026-11-21 10:15:00 +00:00 and 2026-11-21 10:19:59 +00:00"))
            #expect(md.contains("The record is incomplete between 2026-11-21 09:30:00 +00:00 and 2026-11-21 09:45:00 +00:00"))
            #expect(md.contains("## Crash clusters"))
            #expect(md.contains("evil'; DROP TABLE events; -- \"q\" 🚀"))
            #expect(pm.usage.map(\.program) == ["web", "workers"])
            #expect(pm.timeline.rows.count == 24)
            let json = pm.json()
            let parsed = try JSONSerialization.jsonObject(with: Data(json.utf8)) as! [String: Any]
            #expect((parsed["record_incomplete"] as? [Any])?.count == 2)
            #expect((parsed["timeline"] as? [Any])?.count == 24)
            // Without gaps, the report says so.
            let quiet = try Postmortem.build(db, ReportScope(since: ts(100_000), until: ts(110_000)))
            #expect(quiet.incomplete.isEmpty)
            #expect(quiet.markdown(zone: .current).contains("The record has no known gaps in this window."))
        }
    }

    /// The side queries on their own connection and thread (the default) give the same report as all
    /// queries on one connection, in every format.
    @Test func postmortemIsTheSameFromOneConnectionOrTwo() throws {
        try withSample { db throws in
            let utc = TimeZone(identifier: "UTC")!
            let generated = ts(0)
            for s in [scope, ReportScope(since: ts(100_000), until: ts(110_000)), ReportScope(since: ts(-3_600_000), until: ts(3_600_000), programs: ["web"])] {
                let two = try Postmortem.build(db, s)
                let one = try Postmortem.build(db, s, secondConnection: false)
                #expect(two.markdown(zone: utc) == one.markdown(zone: utc))
                #expect(two.json() == one.json())
                #expect(two.html(zone: utc, generated: generated) == one.html(zone: utc, generated: generated))
                #expect(two.series == one.series && two.clusters == one.clusters && two.limits == one.limits)
            }
            #expect(!(try Postmortem.build(db, scope).series.isEmpty))
        }
    }

    @Test func emptyDatabaseGivesEmptyReports() throws {
        let dir = SampleHistory.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try SampleHistory.createEmpty(at: dir + "/e.db")
        let db = try ReportDatabase(path: dir + "/e.db")
        #expect(try Reports.crashes(db, scope).isEmpty)
        #expect(try Reports.crashes(db, scope, summary: true).isEmpty)
        #expect(try Reports.loops(db, scope, window: .seconds(600), minCrashes: 3).isEmpty)
        #expect(try Reports.zombies(db, scope).isEmpty)
        #expect(try Reports.orphans(db, scope, olderThan: .zero).isEmpty)
        #expect(try Reports.breaches(db, scope).isEmpty)
        #expect(try Reports.status(db, scope).isEmpty)
        #expect(try Reports.top(db, at: ts(0), sort: .cpu, limit: 5, programs: []).processes.isEmpty)
        let pm = try Postmortem.build(db, scope)
        #expect(pm.timeline.isEmpty)
        // Nothing recorded is not "no known gaps": the whole window is marked as unknown.
        #expect(pm.incomplete.map(\.reason) == ["this database holds no events at all"])
        #expect(pm.incomplete.first.map { ($0.from, $0.until) == (scope.since, scope.until) } == true)
    }

    /// A window that begins before the oldest stored event (pruned by retention, or before the file
    /// existed) is incomplete up to that event, not "without known gaps".
    @Test func aWindowBeforeTheOldestEventIsIncompleteUpToIt() throws {
        try withSample { db throws in
            let oldest = try #require(try db.run(query: "record_start", arguments: [:], columns: [ReportColumn("ts", .time)]).value(0, "ts"))
            guard case .time(let begins) = oldest else { Issue.record("no oldest event: \(oldest)"); return }
            let early = ReportScope(since: Timestamp(milliseconds: begins.milliseconds - 3_600_000), until: Timestamp(milliseconds: begins.milliseconds + 60_000))
            let pm = try Postmortem.build(db, early)
            let before = pm.incomplete.filter { $0.reason.hasPrefix("this database holds nothing older than its oldest event") }
            #expect(before.count == 1, "\(pm.incomplete)")
            #expect(before.first.map { ($0.from, $0.until) == (early.since, begins) } == true, "\(before)")
            // From the oldest event on, no such line.
            let later = try Postmortem.build(db, ReportScope(since: begins, until: Timestamp(milliseconds: begins.milliseconds + 60_000)))
            #expect(!later.incomplete.contains { $0.reason.hasPrefix("this database holds nothing older") }, "\(later.incomplete)")
        }
    }

    @Test func adHocSQLIsReadOnly() throws {
        try withSample { db throws in
            let r = try AdHocSQL.run(db, sql: "SELECT name FROM programs WHERE id = 3")
            #expect(r.rows == [[.text("evil'; DROP TABLE events; -- \"q\" 🚀")]])
            let bound = try AdHocSQL.run(db, sql: "SELECT COUNT(*) AS n FROM events WHERE ts >= :since AND ts < :until", scope: scope)
            #expect(bound.rows == [[.integer(24)]])
            for write in ["DELETE FROM events", "DROP TABLE events", "INSERT INTO programs (name) VALUES ('x')",
                          "UPDATE runs SET pid = 1", "CREATE TABLE x (a)", "ATTACH '/tmp/x.db' AS x", "VACUUM INTO '/tmp/histctl-vacuum.db'",
                          "PRAGMA query_only = OFF", "PRAGMA user_version = 7"] {
                #expect(throws: ReportError.self, "\(write)") { try AdHocSQL.run(db, sql: write) }
                do { _ = try AdHocSQL.run(db, sql: write) } catch let e as ReportError { #expect(e.description.hasPrefix("histctl sql is read-only")) }
            }
            #expect(!FileManager.default.fileExists(atPath: "/tmp/histctl-vacuum.db"))
            #expect(try AdHocSQL.run(db, sql: "SELECT COUNT(*) FROM events").rows == [[.integer(24)]])
            let schema = try AdHocSQL.schema(db)
            #expect(schema.contains("CREATE TABLE events"))
            #expect(schema.contains("-- kernel start time (clock ticks since boot)"))
        }
    }
}
