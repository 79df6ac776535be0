import Foundation
import HistReports

/// Where the central PostgreSQL is: `postgres://user@host:5432/dbname?sslmode=prefer`. The password never
/// comes from the URL (it would show in `ps` and in config files): it comes from a password file (one
/// line), or from `PGPASSFILE` / `~/.pgpass` in libpq's `host:port:db:user:password` format.
public struct FleetURL: Sendable, Equatable, CustomStringConvertible {
    public enum TLSMode: String, Sendable { case disable, prefer, require }
    public var host: String
    public var port: Int
    public var user: String
    public var database: String
    public var tls: TLSMode
    public var password: String?

    public var description: String { "postgres://\(user)@\(host):\(port)/\(database)" }

    public static func isFleetURL(_ s: String) -> Bool { FleetScope.isFleetURL(s) }

    /// Parses `text`; `passwordFile` (a file whose first line is the password) wins over `PGPASSFILE`.
    public init(_ text: String, passwordFile: String? = nil, environment: [String: String] = ProcessInfo.processInfo.environment) throws(FleetError) {
        guard Self.isFleetURL(text), let c = URLComponents(string: text), let host = c.host, !host.isEmpty else {
            throw FleetError("not a PostgreSQL URL: \(text) (expected postgres://user@host:5432/dbname)")
        }
        if c.password != nil {
            throw FleetError("the URL \(text.replacingOccurrences(of: c.password ?? "", with: "***")) has a password in it: put it in a password_file (--password-file) or PGPASSFILE instead")
        }
        self.host = host
        self.port = c.port ?? 5432
        self.user = c.user ?? environment["PGUSER"] ?? environment["USER"] ?? "postgres"
        let path = c.path.hasPrefix("/") ? String(c.path.dropFirst()) : c.path
        self.database = path.isEmpty ? user : path
        let mode = c.queryItems?.first(where: { $0.name == "sslmode" })?.value ?? "prefer"
        guard let tls = TLSMode(rawValue: mode) else {
            throw FleetError("sslmode=\(mode) is not supported: use disable, prefer or require")
        }
        self.tls = tls
        if let passwordFile {
            guard let text = try? String(contentsOfFile: passwordFile, encoding: .utf8) else {
                throw FleetError("cannot read the password file \(passwordFile)")
            }
            password = text.split(separator: "\n", omittingEmptySubsequences: false).first.map(String.init)
        } else {
            let file = environment["PGPASSFILE"] ?? (environment["HOME"].map { $0 + "/.pgpass" })
            password = file.flatMap { try? String(contentsOfFile: $0, encoding: .utf8) }
                .flatMap { Self.pgpass($0, host: host, port: port, database: database, user: user) }
        }
    }

    /// The password of the first matching `host:port:db:user:password` line (`*` matches anything,
    /// `\:` and `\\` are escapes), as libpq reads it.
    static func pgpass(_ text: String, host: String, port: Int, database: String, user: String) -> String? {
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            var fields: [String] = [], field = "", escaped = false
            for ch in line {
                if escaped { field.append(ch); escaped = false } else if ch == "\\" { escaped = true }
                else if ch == ":" && fields.count < 4 { fields.append(field); field = "" } else { field.append(ch) }
            }
            fields.append(field)
            guard fields.count == 5 else { continue }
            let want = [host, String(port), database, user]
            if zip(fields.prefix(4), want).allSatisfy({ $0 == "*" || $0 == $1 }) { return fields[4] }
        }
        return nil
    }
}

public struct FleetError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
    /// The message of any error a fleet call threw.
    public static func text(_ error: any Error) -> String {
        (error as? FleetError)?.description ?? FleetDatabase.describe(error)
    }
}
