import Foundation
import GRDB
import HistModel
import HistStore
import Testing
@testable import HistReports

/// The crash listing written straight from the query's rows (`Reports.crashListing`, ListingBytes) is the
/// same document, byte for byte, as the rows read into cells and rendered (`Renderer.bytes` of
/// `Reports.crashes`), for text that is not plain ASCII too, and for rows whose order the sort decides.
@Suite struct ListingBytesTests {
    /// The sample history plus crashes with awkward stderr tails (non-ASCII, invalid UTF-8, NUL, CSV and
    /// JSON specials), several ending at the same ms (their order is the id), and a spawn failure.
    static func makeHistory(_ path: String) throws {
        try SampleHistory.create(at: path)
        let queue = try DatabaseQueue(path: path)
        defer { try? queue.close() }
        let t = SampleHistory.t0
        let tails = ["'é ü 日本 🙂'", "CAST(x'ff41c3' AS TEXT)", "'nul' || char(0) || 'byte'", "'a,b \"q\"' || char(13, 10) || 'next'",
                     "char(8232) || char(65279) || 'x'", "'a,' || char(769) || 'b'", "''", "'tab' || char(9) || char(127)", "NULL",
                     "'plain, with comma'", "'\\\\ back \\\\ slash'"]
        try queue.write { db in
            for (k, tail) in tails.enumerated() {
                // Ids descending while the end times tie in pairs: the sort, not the scan, orders them.
                let id = 100 - k, end = t + 400_000 + Int64(k / 2) * 1000
                try db.execute(sql: """
                    INSERT INTO instances (id, run_id, program_id, worker_index, pid, start_ticks, started_at, ended_at, exit_code,
                                           signal, core_dumped, class, uptime_ms, stderr_tail)
                    VALUES (\(id), 2, \(k % 2 == 0 ? 1 : 3), NULL, \(500 + k), \(k), \(end - 1234), \(end), \(k % 3 == 0 ? "NULL" : "\(k)"),
                            \(k % 3 == 0 ? "\(k + 5)" : "NULL"), \(k % 2), '\(k % 4 == 0 ? "limit" : "crash")', 1234, \(tail))
                    """)
                if k % 3 != 2 {
                    try db.execute(sql: "INSERT INTO events (ts, kind, run_id, program_id, instance_id, value, detail) VALUES (?, 4, 2, ?, ?, ?, NULL)",
                                   arguments: [end, k % 2 == 0 ? 1 : 3, id, 250 * k + 1])
                }
            }
            // A spawn failure at the same ms as a crash (source 1 sorts after it).
            try db.execute(sql: """
                INSERT INTO events (ts, kind, run_id, program_id, instance_id, value, detail)
                VALUES (\(t + 400_000), 9, 2, 1, NULL, 13, '{"step":"exec","reason":"Permission denied, \\"x\\"","worker_index":null}')
                """)
            try db.execute(sql: "UPDATE instances SET restart_delay_ms = NULL")
            try db.execute(sql: RestartDelay.rebuildAllSQL)
        }
    }

    @Test func bytesEqualTheRenderedRows() throws {
        let dir = SampleHistory.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/h.db"
        try Self.makeHistory(path)
        let db = try ReportDatabase(path: path)
        let t = SampleHistory.t0
        let filters: [[String]] = [[], ["web"], ["evil'; DROP TABLE events; -- \"q\" 🚀"], ["workers.0"]]
        var compared = 0
        for programs in filters {
            for (since, until) in [(t - 86_400_000, t + 86_400_000), (t + 401_000, t + 403_000), (t + 900_000, t + 900_001)] {
                let scope = ReportScope(since: Timestamp(milliseconds: since), until: Timestamp(milliseconds: until), programs: programs,
                                        now: Timestamp(milliseconds: t + 3_600_000))
                let rows = try Reports.crashes(db, scope)
                for format in [OutputFormat.csv, .json] {
                    let listing = try #require(try Reports.crashListing(db, scope, format: format))
                    let expected = try #require(Renderer.bytes(rows, as: format))
                    #expect(listing.bytes == expected, "\(format) \(programs) \(since)..<\(until)")
                    #expect(listing.rows == rows.rows.count)
                }
                compared += rows.rows.count
            }
        }
        // What the comparison covered: the awkward tails, a tie broken by id, and the spawn failure.
        let all = try Reports.crashes(db, ReportScope(since: Timestamp(milliseconds: t), until: Timestamp(milliseconds: t + 86_400_000),
                                                      now: Timestamp(milliseconds: t)))
        let tails = all.rows.compactMap { if case .text(let s) = $0[9] { s } else { nil } }
        #expect(tails.contains("nul\u{0}byte"), "a NUL is read whole")
        #expect(tails.contains("\u{FFFD}A\u{FFFD}"), "invalid UTF-8 is repaired as String(decoding:) does")
        #expect(tails.contains("é ü 日本 🙂"))
        #expect(all.rows.contains { $0[8] == .text("spawn_failed") })
        #expect(compared > 20)
    }

    @Test func otherFormatsAreNotListings() throws {
        let dir = SampleHistory.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try SampleHistory.create(at: dir + "/h.db")
        let db = try ReportDatabase(path: dir + "/h.db")
        let scope = ReportScope(since: Timestamp(milliseconds: 0), until: Timestamp(milliseconds: SampleHistory.t0 * 2))
        #expect(try Reports.crashListing(db, scope, format: .table) == nil)
        #expect(try Reports.crashListing(db, scope, format: .html) == nil)
        let empty = ReportScope(since: Timestamp(milliseconds: 0), until: Timestamp(milliseconds: 1))
        #expect(try Reports.crashListing(db, empty, format: .json)?.bytes == Array("[]\n".utf8))
        #expect(try Reports.crashListing(db, empty, format: .csv).map { String(decoding: $0.bytes, as: UTF8.self) }
            == Reports.crashColumns.map(\.name).joined(separator: ",") + "\r\n")
    }
}
