/// The `[ship]` table, validated: where histd-ship copies this host's history (docs/FLEET.md).
/// Its presence turns shipping on: histd's writer captures changes (`ShipCapture.on`) and histd starts
/// histd-ship as a supervised program named `histd-ship`.
public struct ShipSpec: Hashable, Sendable, Codable {
    /// `url`: `postgres://user@host:port/db` (never with a password: that is a config error).
    public var url: String
    /// `password_file`: absolute path of a file whose first line is the password; nil = `PGPASSFILE` or
    /// `~/.pgpass` (libpq's format), or no password.
    public var passwordFile: String?
    /// `host_id`: this host's name in the fleet; nil = the hostname (histd-ship pins it to
    /// /etc/machine-id centrally, so two machines cannot ship under one name unnoticed).
    public var hostID: String?
    /// `ship_max_backlog`: bytes of unshipped history local retention keeps past its own period.
    public var maxBacklog: Int64
    /// `ship_snapshots`: how far apart the shipped snapshots are (histd-ship ships the first sweep of each
    /// such interval, with every instance's snapshot in it); nil = "off", no snapshots shipped.
    public var snapshots: Duration?

    public static let defaultMaxBacklog: Int64 = 1 << 30

    public init(url: String, passwordFile: String? = nil, hostID: String? = nil, maxBacklog: Int64 = ShipSpec.defaultMaxBacklog,
                snapshots: Duration? = nil) {
        self.url = url
        self.passwordFile = passwordFile
        self.hostID = hostID
        self.maxBacklog = maxBacklog
        self.snapshots = snapshots
    }

    /// The program name histd gives the shipper it supervises; no `[program]` may use it.
    public static let programName = "histd-ship"

    /// Why `text` is not a usable `url`, or nil. Only the shape is checked here (histd does not link
    /// PostgreSQL); histd-ship parses it fully. The password check is the point: a URL with a password
    /// would show in `ps` and in the config file.
    public static func urlProblem(_ text: String) -> String? {
        let schemes = ["postgres://", "postgresql://"]
        guard let scheme = schemes.first(where: { text.hasPrefix($0) }) else {
            return "expected a PostgreSQL URL such as \"postgres://histd@db.example:5432/fleet\""
        }
        let rest = text.dropFirst(scheme.count)
        let authority = rest.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
        let at = authority.lastIndex(of: "@")
        if let at, authority[..<at].contains(":") {
            return "the URL has a password in it; put the password in password_file (or PGPASSFILE) instead, never in the config"
        }
        let hostPort = at.map { String(authority[authority.index(after: $0)...]) } ?? authority
        let host: Substring
        var port: Substring?
        if hostPort.hasPrefix("["), let close = hostPort.firstIndex(of: "]") {
            host = hostPort[hostPort.index(after: hostPort.startIndex)..<close]
            let after = hostPort[hostPort.index(after: close)...]
            if after.hasPrefix(":") { port = after.dropFirst() } else if !after.isEmpty { return "expected [IPv6]:PORT after the @" }
        } else if let colon = hostPort.lastIndex(of: ":") {
            host = hostPort[..<colon]
            port = hostPort[hostPort.index(after: colon)...]
        } else {
            host = Substring(hostPort)
        }
        if host.isEmpty { return "the URL names no host: expected postgres://user@host:5432/db" }
        if let port, UInt16(port).map({ $0 > 0 }) != true { return "\"\(port)\" is not a port (1-65535)" }
        return nil
    }

    /// Why `name` is not a usable `host_id`, or nil: 1-253 characters of letters, digits, `.`, `-`, `_`.
    public static func hostIDProblem(_ name: String) -> String? {
        if name.isEmpty || name.utf8.count > 253 { return "must be 1 to 253 characters" }
        let ok = name.unicodeScalars.allSatisfy {
            ($0 >= "a" && $0 <= "z") || ($0 >= "A" && $0 <= "Z") || ($0 >= "0" && $0 <= "9") || $0 == "." || $0 == "-" || $0 == "_"
        }
        return ok ? nil : "\"\(name)\" has a character other than letters, digits, '.', '-' and '_'"
    }
}
