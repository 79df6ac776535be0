import Foundation
import GRDB
import Logging
import PostgresNIO

/// One connection to the central PostgreSQL. Callers run in their own process (histd-ship, histctl),
/// never inside histd: docs/FLEET.md, "Why a separate process".
public final class FleetDatabase: Sendable {
    public let url: FleetURL
    let connection: PostgresConnection
    let logger: Logger

    init(url: FleetURL, connection: PostgresConnection, logger: Logger) {
        self.url = url
        self.connection = connection
        self.logger = logger
    }

    public static func connect(_ url: FleetURL, logger: Logger = Logger(label: "histd.fleet")) async throws(FleetError) -> FleetDatabase {
        do {
            let tls: PostgresConnection.Configuration.TLS
            switch url.tls {
            case .disable: tls = .disable
            case .prefer: tls = .prefer(try NIOSSLContext(configuration: .makeClientConfiguration()))
            case .require: tls = .require(try NIOSSLContext(configuration: .makeClientConfiguration()))
            }
            var config = PostgresConnection.Configuration(host: url.host, port: url.port, username: url.user,
                                                          password: url.password, database: url.database, tls: tls)
            config.options.connectTimeout = .seconds(10)
            let c = try await PostgresConnection.connect(configuration: config, id: 1, logger: logger)
            return FleetDatabase(url: url, connection: c, logger: logger)
        } catch {
            throw FleetError("cannot connect to \(url): \(Self.describe(error))")
        }
    }

    public func close() async {
        try? await connection.close()
    }

    /// Runs SQL text with no parameters: several statements allowed (the simple query protocol).
    public func execute(script: String) async throws(FleetError) {
        do { _ = try await connection.simpleQuery(script).get() } catch { throw FleetError(Self.describe(error)) }
    }

    /// Runs one statement with bound parameters and returns its rows as SQLite-style values, so the fleet
    /// reports reuse the local reports' column handling (ReportDatabase.read).
    @discardableResult
    public func rows(_ sql: String, _ binds: [FleetValue] = []) async throws(FleetError) -> [[DatabaseValue]] {
        var b = PostgresBindings(capacity: binds.count)
        for v in binds { v.bind(into: &b) }
        do {
            var out: [[DatabaseValue]] = []
            for try await row in try await connection.query(PostgresQuery(unsafeSQL: sql, binds: b), logger: logger) {
                out.append(row.map(Self.value))
            }
            return out
        } catch {
            throw FleetError(Self.describe(error))
        }
    }

    static func value(_ cell: PostgresCell) -> DatabaseValue {
        guard cell.bytes != nil else { return .null }
        switch cell.dataType {
        case .int2, .int4, .int8, .oid:
            return (try? cell.decode(Int64.self)).map { $0.databaseValue } ?? .null
        case .float4, .float8, .numeric:
            return (try? cell.decode(Double.self)).map { $0.databaseValue } ?? .null
        case .bool:
            return (try? cell.decode(Bool.self)).map { ($0 ? 1 : 0 as Int64).databaseValue } ?? .null
        default:
            return (try? cell.decode(String.self)).map { $0.databaseValue } ?? .null
        }
    }

    /// PSQLError hides the server's message from `description` (it may hold data); an operator needs it.
    public static func describe(_ error: any Error) -> String {
        if let p = error as? PSQLError {
            if let s = p.serverInfo {
                let code = s[.sqlState].map { " (SQLSTATE \($0))" } ?? ""
                return (s[.message] ?? "server error") + code
            }
            if let u = p.underlying { return "\(p.code): \(u)" }
            return "\(p.code)"
        }
        return "\(error)"
    }
}

/// A value bound as a PostgreSQL parameter.
public enum FleetValue: Sendable, Hashable {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)
    case texts([String])

    public init(_ v: DatabaseValue) {
        switch v.storage {
        case .null: self = .null
        case .int64(let n): self = .integer(n)
        case .double(let d): self = .real(d)
        case .string(let s): self = .text(s)
        case .blob(let d): self = .text(String(decoding: d, as: UTF8.self))
        }
    }

    func bind(into b: inout PostgresBindings) {
        switch self {
        case .null: b.appendNull()
        case .integer(let n): b.append(n)
        case .real(let d): b.append(d)
        case .text(let s): b.append(s)
        case .texts(let a): b.append(a)
        }
    }
}
