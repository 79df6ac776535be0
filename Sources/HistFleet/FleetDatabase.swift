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
    /// How long one query may take before the caller gives up on the connection (seconds).
    public let queryTimeout: Double

    init(url: FleetURL, connection: PostgresConnection, logger: Logger, queryTimeout: Double) {
        self.queryTimeout = queryTimeout
        self.url = url
        self.connection = connection
        self.logger = logger
    }

    public static func connect(_ url: FleetURL, logger: Logger = Logger(label: "histd.fleet"), queryTimeout: Double = 60) async throws(FleetError) -> FleetDatabase {
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
            return FleetDatabase(url: url, connection: c, logger: logger, queryTimeout: queryTimeout)
        } catch {
            throw FleetError("cannot connect to \(url): \(Self.describe(error))")
        }
    }

    public func close() async {
        let c = connection
        _ = try? await Self.bounded(seconds: 5, what: "close") { try await c.close() }
    }

    /// Runs SQL text with no parameters, one statement after the other (postgres-nio sends every query
    /// through the extended protocol, which takes one statement at a time). Not atomic by itself: wrap it
    /// in BEGIN/COMMIT for that.
    public func execute(script: String) async throws(FleetError) {
        for statement in Self.statements(script) {
            try await rows(statement)
        }
    }

    /// Splits SQL text at the semicolons that end statements: not inside '...', "...", $tag$...$tag$ or
    /// comments. Written here because the package has no SQL lexer and the central migrations need only this.
    static func statements(_ sql: String) -> [String] {
        var out: [String] = [], current = ""
        let chars = Array(sql)
        var i = 0
        func flush() {
            let t = current.trimmingCharacters(in: .whitespacesAndNewlines)
            let code = t.split(separator: "\n").filter { !$0.trimmingCharacters(in: .whitespaces).hasPrefix("--") }
            if !code.joined().trimmingCharacters(in: .whitespaces).isEmpty { out.append(t) }
            current = ""
        }
        while i < chars.count {
            let c = chars[i]
            if c == "-", i + 1 < chars.count, chars[i + 1] == "-" {
                while i < chars.count, chars[i] != "\n" { current.append(chars[i]); i += 1 }
                continue
            }
            if c == "/", i + 1 < chars.count, chars[i + 1] == "*" {
                while i < chars.count, !(chars[i] == "*" && i + 1 < chars.count && chars[i + 1] == "/") { current.append(chars[i]); i += 1 }
                if i < chars.count { current.append("*/"); i += 2 }
                continue
            }
            if c == "'" || c == "\"" {
                current.append(c); i += 1
                while i < chars.count, chars[i] != c { current.append(chars[i]); i += 1 }
                if i < chars.count { current.append(chars[i]); i += 1 }
                continue
            }
            if c == "$" {
                var j = i + 1
                while j < chars.count, chars[j].isLetter || chars[j].isNumber || chars[j] == "_" { j += 1 }
                if j < chars.count, chars[j] == "$" {
                    let tag = String(chars[i...j])
                    current += tag; i = j + 1
                    while i < chars.count, !String(chars[i..<min(chars.count, i + tag.count)]).elementsEqual(tag) {
                        current.append(chars[i]); i += 1
                    }
                    if i < chars.count { current += tag; i += tag.count }
                    continue
                }
            }
            if c == ";" { flush(); i += 1; continue }
            current.append(c); i += 1
        }
        flush()
        return out
    }

    /// Runs one statement with bound parameters and returns its rows as SQLite-style values, so the fleet
    /// reports reuse the local reports' column handling (ReportDatabase.read).
    @discardableResult
    public func rows(_ sql: String, _ binds: [FleetValue] = []) async throws(FleetError) -> [[DatabaseValue]] {
        try await namedRows(sql, binds).rows
    }

    /// `COPY table (columns) FROM STDIN` (text format) of `text`, bounded like `rows`. The fastest way into
    /// PostgreSQL: no statement to parse and plan per batch, no parameter limit.
    public func copy(into table: String, columns: [String], text: CopyText) async throws(FleetError) {
        let c = connection, logger = logger, data = text.buffer
        do {
            try await Self.bounded(seconds: queryTimeout, what: "a COPY") {
                try await c.copyFrom(table: table, columns: columns, logger: logger) { writer in try await writer.write(data) }
            }
        } catch let e as FleetError {
            throw e
        } catch {
            throw FleetError(Self.describe(error))
        }
    }

    /// Like `rows`, with the result's column names (empty when there is no row: postgres-nio 1.33.2 keeps
    /// the row description of an empty result to itself).
    public func namedRows(_ sql: String, _ binds: [FleetValue] = []) async throws(FleetError) -> (names: [String], rows: [[DatabaseValue]]) {
        var b = PostgresBindings(capacity: binds.count)
        for v in binds { v.bind(into: &b) }
        let query = PostgresQuery(unsafeSQL: sql, binds: b)
        let c = connection, logger = logger
        do {
            return try await Self.bounded(seconds: queryTimeout, what: "a query") {
                var names: [String] = [], out: [[DatabaseValue]] = []
                for try await row in try await c.query(query, logger: logger) {
                    if names.isEmpty { names = row.map(\.columnName) }
                    out.append(row.map(Self.value))
                }
                return (names, out)
            }
        } catch let e as FleetError {
            throw e
        } catch {
            throw FleetError(Self.describe(error))
        }
    }

    static func writeCopyText(_ v: FleetValue, into b: inout ByteBuffer) {
        switch v {
        case .null: b.writeString("\\N")
        case .integer(let n): b.writeString(String(n))
        case .real(let d): b.writeString(d.isFinite ? "\(d)" : (d.isNaN ? "NaN" : (d > 0 ? "Infinity" : "-Infinity")))
        case .text(let s):
            for byte in s.utf8 {
                switch byte {
                case UInt8(ascii: "\\"): b.writeString("\\\\")
                case UInt8(ascii: "\t"): b.writeString("\\t")
                case UInt8(ascii: "\n"): b.writeString("\\n")
                case UInt8(ascii: "\r"): b.writeString("\\r")
                default: b.writeInteger(byte)
                }
            }
        case .texts(let a):
            // A text[] literal: {"a","b"} with " and \ escaped inside the quotes, then text-format escaped.
            let literal = "{" + a.map { "\"" + $0.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\"" }.joined(separator: ",") + "}"
            writeCopyText(.text(literal), into: &b)
        }
    }

    /// Runs `body` in its own task and returns its result, or throws after `seconds`. Why not a task group:
    /// a query on a connection the server dropped mid-query can wait forever in postgres-nio 1.33.2 (seen
    /// when PostgreSQL was stopped under a running shipper), and a group waits for every child; here the
    /// stuck task is left behind (its connection is abandoned) and the caller reconnects.
    static func bounded<T: Sendable>(seconds: Double, what: String, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
        let once = Once<T>()
        return try await withCheckedThrowingContinuation { (k: CheckedContinuation<T, any Error>) in
            once.set(k)
            Task {
                do { once.resume(.success(try await body())) } catch { once.resume(.failure(error)) }
            }
            Task {
                try? await Task.sleep(for: .seconds(seconds))
                once.resume(.failure(FleetError("the server did not answer \(what) within \(Int(seconds)) s")))
            }
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
            // A type without a decoder here (jsonb, timestamptz, arrays, ...) says so instead of passing for NULL.
            return (try? cell.decode(String.self)).map { $0.databaseValue }
                ?? "(\(cell.dataType) value: cast it to text)".databaseValue
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

/// Resumes a continuation once, whichever of its racers comes first.
final class Once<T: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var k: CheckedContinuation<T, any Error>?
    func set(_ k: CheckedContinuation<T, any Error>) { lock.lock(); self.k = k; lock.unlock() }
    func resume(_ r: Result<T, any Error>) {
        lock.lock()
        let k = self.k
        self.k = nil
        lock.unlock()
        k?.resume(with: r)
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
