/// Why the history database could not be opened or written. One error type for the module, with a
/// `Code` that tests and callers can compare, and a message that names the file and what is wrong.
public struct HistoryStoreError: Error, CustomStringConvertible, Sendable, Equatable {
    public enum Code: String, Sendable, Equatable {
        /// The path names a directory.
        case isDirectory = "is_directory"
        /// The file exists but is not an SQLite database.
        case notADatabase = "not_a_database"
        /// An SQLite database, but not one histd created (other tables, no migration record), or empty for a reader.
        case notAHistoryDatabase = "not_a_history_database"
        /// Written by a newer histd: it holds migrations this binary does not know.
        case newerSchema = "newer_schema"
        /// The database (or its folder) does not exist and was not to be created.
        case missing
        /// The file or its folder could not be created or opened (permissions, read-only file system...).
        case cannotOpen = "cannot_open"
        /// The path (or its -wal/-shm) is a symbolic link, which histd never follows for files it writes.
        case unsafeFile = "unsafe_file"
        /// Applying a migration failed.
        case migrationFailed = "migration_failed"
        /// A synchronous write (beginRun, endRun, prune) failed.
        case writeFailed = "write_failed"
    }

    public var code: Code
    public var path: String
    public var message: String

    public init(_ code: Code, path: String, _ message: String) {
        self.code = code
        self.path = path
        self.message = message
    }

    public var description: String { "history database \(path): \(message)" }
}

extension HistoryStoreError.Code {
    /// Whether the same file may open later without anyone changing it (space freed, a mount made
    /// writable, a lock released): `histd run` supervises meanwhile and its writer retries. The others are
    /// refusals of the file itself.
    public var isRetryable: Bool {
        switch self {
        case .cannotOpen, .missing, .migrationFailed, .writeFailed: true
        case .isDirectory, .notADatabase, .notAHistoryDatabase, .newerSchema, .unsafeFile: false
        }
    }
}
