import Foundation
import GRDB
import HistStore

/// The known-content history for histctl's golden tests: the rows of
/// Tests/Fixtures/sample-history.sql, shared with HistReportsTests. Times around 2026-11-21T10:00:00Z.
enum HistctlSample {
    /// The script, read from Tests/Fixtures/sample-history.sql (shared with the other test target).
    static let sql: String = {
        var dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        while !FileManager.default.fileExists(atPath: dir.appendingPathComponent("Package.swift").path) {
            dir.deleteLastPathComponent()
        }
        return try! String(contentsOf: dir.appendingPathComponent("Tests/Fixtures/sample-history.sql"), encoding: .utf8)
    }()

    /// Writes the schema (through the store: HistoryStore.open applies the embedded migrations) and,
    /// unless `empty`, the sample rows.
    static func create(at path: String, empty: Bool = false) throws {
        let store = try HistoryStore.open(path: path)
        store.close()
        guard !empty else { return }
        let queue = try DatabaseQueue(path: path)
        // Raw rows, written without the writer: derive the rollups as migration 0007 does.
        try queue.write { db in
            try db.execute(sql: sql)
            try HistoryRollups.rebuildAll(db)
        }
        try queue.close()
    }
}
