import Foundation
import GRDB
import HistStore
import HistReports
import HistTestSupport

/// A small history with known content: the schema through the store, then rows in plain SQL that follow
/// the real writer's conventions (docs/SCHEMA.md: restart_scheduled points at the ended instance, the
/// unclean run is closed at its last event with a supervisor_stop, recording_gap ts = from_ms).
/// All times are around T = 2026-11-21T10:00:00Z (1795255200000 ms).
/// (The rows are in Tests/Fixtures/sample-history.sql, shared with the golden tests.)
enum SampleHistory {
    static let t0: Int64 = 1_795_255_200_000

    /// The script, read from Tests/Fixtures/sample-history.sql (shared with the other test target).
    static let sql: String = {
        var dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        while !FileManager.default.fileExists(atPath: dir.appendingPathComponent("Package.swift").path) {
            dir.deleteLastPathComponent()
        }
        return try! String(contentsOf: dir.appendingPathComponent("Tests/Fixtures/sample-history.sql"), encoding: .utf8)
    }()

    /// Creates an empty history (schema only) at `path`, through the store (one migration path).
    static func createEmpty(at path: String) throws {
        try HistoryFixture.createSchema(at: path)
    }

    /// Creates the sample history at `path`.
    static func create(at path: String) throws {
        try createEmpty(at: path)
        let queue = try DatabaseQueue(path: path)
        // Raw rows, written without the writer: derive the rollups as migration 0007 does.
        try queue.write { db in
            try db.execute(sql: sql)
            try HistoryRollups.rebuildAll(db)
        }
        try queue.close()
    }

    /// A fresh temporary folder, removed by `cleanup`.
    static func tempDir() -> String {
        let dir = NSTemporaryDirectory() + "histreports-" + UUID().uuidString
        try! FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }
}
