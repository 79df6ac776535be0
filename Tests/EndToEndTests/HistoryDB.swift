import Foundation
import GRDB

/// Read-only access to a history database that a real histd writes (or wrote). Every call opens a
/// fresh read-only connection and closes it, so a test never holds the file across histd restarts.
struct HistoryDB {
    let path: String

    func read<T>(_ body: (Database) throws -> T) throws -> T {
        var config = Configuration()
        config.readonly = true
        config.busyMode = .timeout(5)
        let queue = try DatabaseQueue(path: path, configuration: config)
        defer { try? queue.close() }
        return try queue.read(body)
    }

    func int(_ sql: String, _ arguments: StatementArguments = []) throws -> Int {
        try read { try Int.fetchOne($0, sql: sql, arguments: arguments) } ?? 0
    }

    func rows(_ sql: String, _ arguments: StatementArguments = []) throws -> [Row] {
        try read { try Row.fetchAll($0, sql: sql, arguments: arguments) }
    }

    /// Like `int`, but 0 when the database is not there or not readable yet (histd still starting).
    func intOrZero(_ sql: String, _ arguments: StatementArguments = []) -> Int {
        guard FileManager.default.fileExists(atPath: path) else { return 0 }
        return (try? int(sql, arguments)) ?? 0
    }

    /// `PRAGMA integrity_check` on a read-only connection.
    func integrityCheck() throws -> [String] {
        try read { try String.fetchAll($0, sql: "PRAGMA integrity_check") }
    }

    /// Event count of one kind (by name), optionally of one run.
    func events(_ kind: String, run: Int64? = nil) -> Int {
        if let run {
            return intOrZero("SELECT count(*) FROM events WHERE kind = (SELECT id FROM event_kinds WHERE name = ?) AND run_id = ?", [kind, run])
        }
        return intOrZero("SELECT count(*) FROM events WHERE kind = (SELECT id FROM event_kinds WHERE name = ?)", [kind])
    }

    /// Instance count of a program, optionally of one class.
    func instances(_ program: String, class cls: String? = nil) -> Int {
        if let cls {
            return intOrZero("""
                SELECT count(*) FROM instances i JOIN programs p ON p.id = i.program_id WHERE p.name = ? AND i.class = ?
                """, [program, cls])
        }
        return intOrZero("SELECT count(*) FROM instances i JOIN programs p ON p.id = i.program_id WHERE p.name = ?", [program])
    }
}
