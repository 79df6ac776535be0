import Foundation
import GRDB
import HistModel
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
        var args = scope.arguments
        args["window_ms"] = 600_000
        args["min_crashes"] = 3
        args["older_than_ms"] = 3_600_000
        args["at"] = SampleHistory.t0 - 3_600_000
        args["sort"] = "cpu"
        args["limit"] = 20
        args["buckets"] = 40
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
