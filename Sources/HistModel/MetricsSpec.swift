/// Where `histd run` serves `GET /metrics` (`[supervisor] metrics_listen`).
public enum MetricsAddress: Hashable, Sendable, Codable, CustomStringConvertible {
    /// A TCP address: an IPv4 or IPv6 literal (`localhost` is stored as 127.0.0.1) and a port (1...65535).
    case tcp(host: String, port: UInt16)
    /// A unix stream socket at an absolute path.
    case unix(path: String)

    /// `127.0.0.1:9464`, `[::1]:9464`, or the socket path.
    public var description: String {
        switch self {
        case .tcp(let host, let port): host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        case .unix(let path): path
        }
    }

    /// True for a unix socket and for 127.0.0.0/8 and ::1: only this machine can scrape it.
    public var isLocalOnly: Bool {
        switch self {
        case .unix: return true
        case .tcp(let host, _):
            if host == "::1" || host == "0:0:0:0:0:0:0:1" { return true }
            let parts = host.split(separator: ".", omittingEmptySubsequences: false)
            return parts.count == 4 && parts[0] == "127" && parts.allSatisfy { UInt8($0) != nil }
        }
    }

    /// Parses a `metrics_listen` value: `HOST:PORT` (HOST an IPv4 literal or `localhost`),
    /// `[IPv6]:PORT`, or a unix socket path (absolute, or `unix:PATH`; `relativeTo` resolves a relative one).
    /// The error text says what is wrong, for a config problem.
    public static func parse(_ text: String, relativeTo directory: String) -> Result<MetricsAddress, ParseError> {
        if text.hasPrefix("/") { return .success(.unix(path: text)) }
        if text.hasPrefix("unix:") {
            let path = String(text.dropFirst(5))
            guard !path.isEmpty else { return .failure(ParseError("unix: needs a socket path after it")) }
            return .success(.unix(path: path.hasPrefix("/") ? path : directory + "/" + path))
        }
        let host: Substring, portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else {
                return .failure(ParseError("expected [IPV6]:PORT, e.g. \"[::1]:9464\""))
            }
            host = text[text.index(after: text.startIndex)..<close]
            portText = text[text.index(close, offsetBy: 2)...]
            guard host.contains(":"), host.allSatisfy({ $0.isHexDigit || $0 == ":" || $0 == "." }) else {
                return .failure(ParseError("\"\(host)\" is not an IPv6 address"))
            }
        } else {
            guard let colon = text.lastIndex(of: ":") else {
                return .failure(ParseError("expected HOST:PORT (e.g. \"127.0.0.1:9464\") or a unix socket path (\"/run/histd/metrics.sock\")"))
            }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
        }
        guard let port = UInt16(portText), port > 0 else {
            return .failure(ParseError("\"\(portText)\" is not a port number between 1 and 65535"))
        }
        if text.hasPrefix("[") { return .success(.tcp(host: String(host), port: port)) }
        if host == "localhost" { return .success(.tcp(host: "127.0.0.1", port: port)) }
        let octets = host.split(separator: ".", omittingEmptySubsequences: false)
        guard octets.count == 4, octets.allSatisfy({ !$0.isEmpty && $0.count <= 3 && UInt8($0) != nil }) else {
            return .failure(ParseError("\"\(host)\" is not an IPv4 address or localhost (write IPv6 as [::1]:PORT)"))
        }
        return .success(.tcp(host: String(host), port: port))
    }

    public struct ParseError: Error, Hashable, Sendable, CustomStringConvertible {
        public var description: String
        public init(_ description: String) { self.description = description }
    }
}

/// The metrics keys of `[supervisor]`, validated.
public struct MetricsSpec: Hashable, Sendable, Codable {
    /// `metrics_listen`; nil = no HTTP endpoint (the default).
    public var listen: MetricsAddress?
    /// `metrics_textfile`: absolute path rewritten every `interval` (temp file + rename); nil = off.
    public var textfile: String?
    /// `metrics_interval`: how often the textfile is rewritten (default 15 s).
    public var interval: Duration
    /// `metrics_allow_remote`: permits a `listen` address that other machines can reach.
    public var allowRemote: Bool

    public init(listen: MetricsAddress? = nil, textfile: String? = nil, interval: Duration = .seconds(15), allowRemote: Bool = false) {
        self.listen = listen
        self.textfile = textfile
        self.interval = interval
        self.allowRemote = allowRemote
    }

    /// True when neither the endpoint nor the textfile is configured.
    public var isOff: Bool { listen == nil && textfile == nil }
}
