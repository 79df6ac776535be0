import Foundation
import GRDB

/// `size`: bytes per event row and per snapshot row on the full fixture, from SQLite's `dbstat`
/// virtual table (pages actually used by each table and index, so free pages and other tables do
/// not count). Per event = (events table + every index on events) / event rows; per snapshot row =
/// (snapshots table + its indexes) / snapshot rows, with the per-sweep `sweeps` row reported apart.
enum SizeScenario {
    static func run(_ ws: Workspace) throws -> ScenarioResult {
        let fixture = try Fixture.full(ws)
        var r = ScenarioResult("size")
        let report = try measure(path: fixture.path)
        r.add("bytes per event row", unit: "B", value: report.perEvent, limit: 60, target: "<= 60 B")
        r.add("bytes per snapshot row", unit: "B", value: report.perSnapshot, limit: 40, target: "<= 40 B")
        r.add("bytes per snapshot row incl. its sweeps row", unit: "B", value: report.perSnapshotWithSweeps)
        r.add("file size", unit: "MiB", value: report.fileMiB)
        r.info["method"] = report.method
        r.info["objects"] = report.objects
        r.info["rows"] = "events \(report.events), snapshots \(report.snapshots), sweeps \(report.sweeps)"
        r.info["fixture"] = fixture.path
        return r
    }

    struct Report {
        var perEvent: Double
        var perSnapshot: Double
        var perSnapshotWithSweeps: Double
        var fileMiB: Double
        var events: Int
        var snapshots: Int
        var sweeps: Int
        var method: String
        var objects: String
    }

    /// Works on any histd database (the fixture, or one the real writer produced).
    static func measure(path: String) throws -> Report {
        var config = Configuration()
        config.readonly = true
        let db = try DatabaseQueue(path: path, configuration: config)
        return try db.read { db in
            // name -> owning table, for tables and their indexes.
            let owners = try Row.fetchAll(db, sql: "SELECT name, tbl_name FROM sqlite_schema WHERE type IN ('table','index')")
                .reduce(into: [String: String]()) { $0[$1["name"]] = $1["tbl_name"] }
            let bytes: [String: Int64]
            let method: String
            do {
                bytes = try Row.fetchAll(db, sql: "SELECT name, SUM(pgsize) AS b FROM dbstat GROUP BY name")
                    .reduce(into: [String: Int64]()) { $0[$1["name"]] = $1["b"] }
                method = "dbstat virtual table: SUM(pgsize) per table and index (pages in use, incl. their unused space)"
            } catch {
                throw Workspace.Failure(description: "this SQLite has no dbstat virtual table (\(error)); size needs it")
            }
            func total(_ table: String) -> Int64 { bytes.filter { owners[$0.key] == table }.values.reduce(0, +) }
            let events = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM events") ?? 0
            let snapshots = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM snapshots") ?? 0
            let sweeps = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM sweeps") ?? 0
            let objects = ["events", "snapshots", "sweeps", "instances"].map { t in
                let parts = bytes.filter { owners[$0.key] == t }.sorted { $0.key < $1.key }
                    .map { "\($0.key) \(fmt(Double($0.value) / 1_048_576)) MiB" }
                return parts.joined(separator: ", ")
            }.joined(separator: "; ")
            let pageCount = try Int64.fetchOne(db, sql: "PRAGMA page_count") ?? 0
            let pageSize = try Int64.fetchOne(db, sql: "PRAGMA page_size") ?? 0
            return Report(perEvent: events > 0 ? Double(total("events")) / Double(events) : .nan,
                          perSnapshot: snapshots > 0 ? Double(total("snapshots")) / Double(snapshots) : .nan,
                          perSnapshotWithSweeps: snapshots > 0 ? Double(total("snapshots") + total("sweeps")) / Double(snapshots) : .nan,
                          fileMiB: Double(pageCount * pageSize) / 1_048_576,
                          events: events, snapshots: snapshots, sweeps: sweeps, method: method, objects: objects)
        }
    }
}
