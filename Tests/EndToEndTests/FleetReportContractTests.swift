import Foundation
import GRDB
import HistModel
import HistStore
import HistTestSupport
import Testing

extension EndToEnd.FleetShip {
    /// Adds to a recorded history, through the store's real writer with capture on (as histd with [ship]
    /// writes): limit breaches (memory, tasks_max with refused forks), zombie parents (one that is a
    /// program's process, one of no program, one seen once) and orphans (one of a program alive in the
    /// newest scan, one gone, one young), in scans 1 s apart ending `endsAgo` before now.
    static func addBreachesZombiesAndOrphans(_ path: String, endsAgo: Int64 = 60_000) throws {
        let existing = try DatabaseQueue(path: path)
        let nextID = try existing.read { try Int64.fetchOne($0, sql: "SELECT coalesce(max(id), 0) FROM instances") } ?? 0
        try existing.close()

        let now = Timestamp.now().milliseconds
        let t0 = now - endsAgo - 10_000
        func at(_ offset: Int64) -> Timestamp { Timestamp(milliseconds: t0 + offset) }
        let store = try HistoryStore.open(path: path, ship: .on)
        _ = try store.beginRun(host: "fixture", pid: 4242, version: "0.1.0", configPath: nil, configHash: nil, bootID: nil,
                               programs: [], pools: [], at: at(0))
        let w = store.startWriter()
        let web = InstanceInfo(id: InstanceID(nextID + 1), program: "web", identity: ProcessIdentity(pid: 31_001, startTicks: 777),
                               startedAt: at(100))
        let web2 = InstanceInfo(id: InstanceID(nextID + 2), program: "web", identity: ProcessIdentity(pid: 31_002, startTicks: 778),
                                startedAt: at(150))
        w.record(HistEvent(time: at(100), program: "web", payload: .started(web)))
        w.record(HistEvent(time: at(150), program: "web", payload: .started(web2)))
        w.record(HistEvent(time: at(2_000), program: "web", payload: .limitBreach(
            instance: web, limit: .maxMemory, observed: 629_145_600, threshold: 536_870_912, action: .stop)))
        w.record(HistEvent(time: at(3_000), program: "web", payload: .limitBreach(
            instance: web2, limit: .tasksMax, observed: 8, threshold: 8, action: .forkRefused, refused: 1832)))
        let ownParent = ZombieParentSighting(parent: web.identity, parentName: "web", parentCmdline: "web --serve", zombies: 2)
        let strayParent = ZombieParentSighting(parent: ProcessIdentity(pid: 32_000, startTicks: 9), parentName: "stray",
                                               parentCmdline: "/usr/bin/stray -x", zombies: 4)
        let onceParent = ZombieParentSighting(parent: ProcessIdentity(pid: 32_001, startTicks: 10), parentName: "brief",
                                              parentCmdline: "brief", zombies: 1)
        let alive = OrphanSighting(identity: ProcessIdentity(pid: 33_000, startTicks: 11), name: "leftover", cmdline: "leftover --daemon",
                                   user: "root", startedAt: at(-7_200_000), program: "web", reason: .adoptedByHistd)
        let gone = OrphanSighting(identity: ProcessIdentity(pid: 33_001, startTicks: 12), name: "gone", cmdline: "gone",
                                  user: "nobody", startedAt: at(-5_400_000), program: nil, reason: .reparentedToInit)
        let young = OrphanSighting(identity: ProcessIdentity(pid: 33_002, startTicks: 13), name: "young", cmdline: "young",
                                   user: "root", startedAt: at(4_000), program: nil, reason: .reparentedToInit)
        for k in 0..<6 {
            let time = at(5_000 + Int64(k) * 1_000)
            var zombies = [strayParent]
            if k < 3 { zombies.append(ownParent) }
            if k == 1 { zombies.append(onceParent) }
            var orphans = [alive, young]
            if k < 2 { orphans.append(gone) }
            w.record(ScanReport(time: time, summary: ScanSummary(total: 100), zombieParents: zombies, orphans: orphans))
        }
        #expect(w.flush(timeout: .seconds(10)))
        try store.endRun(reason: .clean, at: at(10_000))
        store.close()
    }

    /// The contract: one host's history, recorded by histd and completed through the store's writer (crashes,
    /// a crash loop, breaches, zombies, orphans), shipped; every fleet report's JSON equals the local
    /// report's, row for row, once the host column is dropped, with the reports' filters too. Status
    /// compares what both backends mean the same way (each program's last exit).
    @Test(.enabled(if: PostgresCluster.available, "PostgreSQL 15 is not installed (/usr/lib/postgresql/15/bin)"))
    func everyFleetReportEqualsTheLocalOne() throws {
        let ws = try Workspace("fleet-reports")
        let pg = try PostgresCluster()
        defer { ws.cleanup(); pg.remove() }
        try Self.record(ws)
        try Self.addBreachesZombiesAndOrphans(ws.path("h.db"))
        let shipped = try Self.shipOnce(ws, pg, host: "h1")
        #expect(shipped.status == 0, "histd-ship failed: \(shipped.stderr)")
        try Self.expectSame(ws, pg, host: "h1")
        // A second host with a different history, so that --host and the host column matter.
        try Self.record(ws, db: "h2.db", seconds: 1)
        let other = try Self.shipOnce(ws, pg, db: "h2.db", host: "h2")
        #expect(other.status == 0, "histd-ship h2 failed: \(other.stderr)")

        func without(_ rows: [NSDictionary], _ key: String) -> [NSDictionary] {
            rows.map { d in let m = d.mutableCopy() as! NSMutableDictionary; m.removeObject(forKey: key); return m as NSDictionary }
        }
        let cases: [(report: [String], minimum: Int, ignored: String?)] = [
            (["crashes"], 3, nil), (["crashes", "--summary"], 1, nil), (["crashes", "--program", "crasher"], 3, nil),
            (["loops"], 1, "state"), (["loops", "--min-crashes", "2", "--window", "1h"], 1, "state"),
            (["breaches"], 2, nil), (["breaches", "--program", "web"], 2, nil), (["breaches", "--program", "crasher"], 0, nil),
            (["zombies"], 2, nil), (["zombies", "--min-duration", "1scan"], 3, nil), (["zombies", "--program", "web"], 1, nil),
            (["zombies", "--min-duration", "4s", "--min-zombies", "3"], 1, nil),
            (["orphans"], 2, nil), (["orphans", "--older-than", "1s"], 3, nil), (["orphans", "--program", "web"], 1, nil),
        ]
        for c in cases {
            let local = try Self.json(try Self.histctl(c.report + ["--db", ws.path("h.db"), "--since", "1d", "--format", "json"]))
            let all = try Self.json(try Self.histctl(c.report + ["--db", pg.url, "--since", "1d", "--format", "json"]))
            let fleet = try Self.json(try Self.histctl(c.report + ["--db", pg.url, "--since", "1d", "--format", "json", "--host", "h1"]), dropHost: true)
            #expect(local.count >= c.minimum, "the fixture has too few rows for \(c.report): \(local)")
            let l = c.ignored.map { without(local, $0) } ?? local, f = c.ignored.map { without(fleet, $0) } ?? fleet
            #expect(l == f, "fleet \(c.report) differs from local: \(local.count) vs \(fleet.count) rows\nlocal \(local)\nfleet \(fleet)")
            // Without --host: h1's rows are the same, in the same order, among h2's.
            let h1 = all.filter { ($0["host"] as? String) == "h1" }.map { d in
                let m = d.mutableCopy() as! NSMutableDictionary; m.removeObject(forKey: "host"); return m as NSDictionary
            }
            #expect((c.ignored.map { without(h1, $0) } ?? h1) == l, "fleet \(c.report) without --host: h1's rows differ")
            #expect(all.allSatisfy { ["h1", "h2"].contains($0["host"] as? String ?? "") }, "\(all)")
        }
        // The orphan gone from the newest scan is not alive, the other two are: as locally.
        let orphans = try Self.json(try Self.histctl(["orphans", "--db", pg.url, "--since", "1d", "--older-than", "1s", "--format", "json"]))
        #expect(Dictionary(uniqueKeysWithValues: orphans.map { ($0["name"] as? String ?? "?", $0["alive"] as? Bool) })
                == ["leftover": true, "gone": false, "young": true], "\(orphans)")
        // h2 ran only crasher and steady: no breaches there.
        let h2Breaches = try Self.json(try Self.histctl(["breaches", "--db", pg.url, "--since", "1d", "--format", "json", "--host", "h2"]))
        #expect(h2Breaches.isEmpty)

        // status: per program, the last exit means the same on both sides (the newest instance's end).
        let localStatus = try Self.json(try Self.histctl(["status", "--db", ws.path("h.db"), "--format", "json"]))
        let fleetStatus = try Self.json(try Self.histctl(["status", "--db", pg.url, "--host", "h1", "--format", "json"]))
        func exits(_ rows: [NSDictionary]) -> [String: String] {
            Dictionary(uniqueKeysWithValues: rows.map { r in
                (r["program"] as? String ?? "?", "\(r["last_exit_at"] ?? "-") \(r["last_exit_code"] ?? "-") \(r["last_signal"] ?? "-")")
            })
        }
        #expect(Set(localStatus.compactMap { $0["program"] as? String }) == Set(fleetStatus.compactMap { $0["program"] as? String }),
                "status programs: local \(localStatus), fleet \(fleetStatus)")
        let crasherExit = exits(fleetStatus)["crasher"]
        #expect(crasherExit != nil && crasherExit == exits(localStatus)["crasher"], "crasher's last exit: local \(localStatus), fleet \(fleetStatus)")
        let tables = try Self.histctl(["breaches", "--db", pg.url, "--since", "1d"])
        #expect(tables.status == 0 && tables.stdout.contains("600 MiB") && tables.stdout.contains("h1"), "breaches table: \(tables.stdout) \(tables.stderr)")
    }

    /// Fleet `sql`: the user's statement in a READ ONLY transaction with a statement timeout; writes refused,
    /// parameters bound as used, the same output formats as local `histctl sql`.
    @Test(.enabled(if: PostgresCluster.available, "PostgreSQL 15 is not installed (/usr/lib/postgresql/15/bin)"))
    func fleetSQLIsReadOnlyBoundedAndFormatted() throws {
        let ws = try Workspace("fleet-sql")
        let pg = try PostgresCluster()
        defer { ws.cleanup(); pg.remove() }
        try Self.record(ws)
        let shipped = try Self.shipOnce(ws, pg, host: "h1")
        #expect(shipped.status == 0, "histd-ship failed: \(shipped.stderr)")

        let localCount = try Self.json(try Self.histctl(["sql", "--db", ws.path("h.db"), "--format", "json",
                                                          "SELECT count(*) AS n FROM instances WHERE class = 'crash' AND ended_at >= :since"]))
        let fleetCount = try Self.json(try Self.histctl(["sql", "--db", pg.url, "--format", "json", "--host", "h1",
                                                          "SELECT count(*) AS n FROM instances WHERE class = 'crash' AND ended_at >= $1 AND host_id = ANY($5)"]))
        #expect((localCount.first?["n"] as? Int ?? 0) >= 3 && localCount == fleetCount, "local \(localCount), fleet \(fleetCount)")
        // A comment first, $2/$3 and text[] parameters, CSV.
        let csv = try Self.histctl(["sql", "--db", pg.url, "--format", "csv", "--program", "crasher",
                                    "-- which programs\nSELECT name FROM programs WHERE name = ANY($4) AND $2 > 0 AND $3 > 0 ORDER BY 1"])
        let localCSV = try Self.histctl(["sql", "--db", ws.path("h.db"), "--format", "csv", "--program", "crasher",
                                         "SELECT name FROM programs WHERE name IN (SELECT value FROM json_each(:programs)) ORDER BY 1"])
        #expect(csv.status == 0 && csv.stdout.contains("crasher") && csv.stdout == localCSV.stdout, "csv: \(csv.status) \(csv.stdout) \(csv.stderr) local \(localCSV.stdout)")
        // An empty result still has its header, as locally.
        let empty = try Self.histctl(["sql", "--db", pg.url, "--format", "csv", "SELECT host_id, id FROM runs WHERE false"])
        let localEmpty = try Self.histctl(["sql", "--db", ws.path("h.db"), "--format", "csv", "SELECT host AS host_id, id FROM runs WHERE 0"])
        #expect(empty.status == 0 && empty.stdout.hasPrefix("host_id,id") && empty.stdout == localEmpty.stdout, "empty csv: \(empty.stdout) \(empty.stderr) local \(localEmpty.stdout)")
        for format in ["json", "table"] {
            let fleet = try Self.histctl(["sql", "--db", pg.url, "--format", format, "SELECT 1 AS one, 'x' AS two, 2.5::float8 AS three, NULL AS four"])
            let local = try Self.histctl(["sql", "--db", ws.path("h.db"), "--format", format, "SELECT 1 AS one, 'x' AS two, 2.5 AS three, NULL AS four"])
            #expect(fleet.status == 0 && fleet.stdout == local.stdout, "\(format): fleet \(fleet.stdout) \(fleet.stderr), local \(local.stdout)")
        }
        // Writes: refused before the server (not a query), or by the READ ONLY transaction (inside a WITH).
        for write in ["DELETE FROM hosts", "WITH d AS (DELETE FROM hosts RETURNING 1) SELECT * FROM d",
                      "SELECT 1; DELETE FROM hosts", "SET statement_timeout = 0"] {
            let r = try Self.histctl(["sql", "--db", pg.url, write])
            #expect(r.status == 1 && (r.stderr.contains("read-only") || r.stderr.contains("one statement")), "\(write): \(r.status) \(r.stderr)")
        }
        #expect(try pg.count("SELECT count(*) FROM hosts") == 1, "a write went through")
        // The statement timeout cancels a long statement.
        let started = Date()
        let slow = try Self.histctl(["sql", "--db", pg.url, "--timeout", "300ms", "SELECT pg_sleep(20)"])
        #expect(slow.status == 1 && slow.stderr.contains("cancelled"), "slow: \(slow.status) \(slow.stderr)")
        #expect(Date().timeIntervalSince(started) < 15, "the statement was not cancelled at its timeout")
        let schema = try Self.histctl(["sql", "--db", pg.url, "--schema"])
        #expect(schema.status == 0 && schema.stdout.contains("CREATE TABLE fleet_status"), "\(schema.stderr)")
    }
}
