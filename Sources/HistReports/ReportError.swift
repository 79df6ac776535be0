/// Why a report could not be produced. The description is the whole message shown to the user.
public struct ReportError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Code: String, Hashable, Sendable {
        case missingDatabase, notAFile, emptyFile, notSQLite, truncated, notHistd, cannotOpen, corrupt,
             readOnlyRefused, queryFailed, missingQuery, writeFailed
    }
    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
