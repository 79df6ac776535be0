import Foundation

/// One request line, parsed (docs/CONTROL.md has the protocol).
public struct ControlRequest: Sendable {
    public static let version = 1

    public enum Verb: String, Sendable, CaseIterable {
        case start, stop, restart, signal, scale, reload, status
        /// Verbs that change something (need the control role).
        var acts: Bool { self != .status }
    }

    /// Echoed in the reply (any JSON scalar, kept as its JSON text).
    public var id: String?
    public var verb: Verb
    public var names: [String]
    public var signal: String?
    public var count: Int?
    public var force: Bool
    public var wait: Bool
    public var timeout: Duration
    public var dryRun: Bool

    /// The longest wait a request may ask for.
    static let maxTimeout: Duration = .seconds(600)

    /// Parses one line; the error is the reply's message (result `bad_request` or `unsupported_version`).
    static func parse(_ line: ArraySlice<UInt8>) -> Result<ControlRequest, ControlReply> {
        guard let object = try? JSONSerialization.jsonObject(with: Data(line), options: [.fragmentsAllowed]) as? [String: Any] else {
            return .failure(.error(id: nil, "bad_request", "not a JSON object on one line"))
        }
        let id = object["id"].flatMap(Self.scalarJSON)
        guard let v = object["v"] as? Int else { return .failure(.error(id: id, "bad_request", "missing \"v\" (protocol version, 1)")) }
        guard v == version else { return .failure(.error(id: id, "unsupported_version", "protocol version \(v) is not supported (this histd speaks 1)")) }
        guard let cmd = object["cmd"] as? String, let verb = Verb(rawValue: cmd) else {
            let known = Verb.allCases.map(\.rawValue).joined(separator: ", ")
            return .failure(.error(id: id, "bad_request", "\"cmd\" must be one of: \(known)"))
        }
        var names: [String] = []
        if let raw = object["names"] {
            guard let list = raw as? [String], list.count <= 1000, list.allSatisfy({ !$0.isEmpty && $0.utf8.count <= 256 }) else {
                return .failure(.error(id: id, "bad_request", "\"names\" must be an array of at most 1000 non-empty names"))
            }
            names = list
        }
        var timeout: Duration = .seconds(30)
        if let ms = object["timeout_ms"] {
            guard let n = ms as? Int, n >= 0 else { return .failure(.error(id: id, "bad_request", "\"timeout_ms\" must be a non-negative integer")) }
            timeout = min(.milliseconds(n), maxTimeout)
        }
        let request = ControlRequest(id: id, verb: verb, names: names, signal: object["signal"] as? String,
                                     count: object["count"] as? Int, force: object["force"] as? Bool ?? false,
                                     wait: object["wait"] as? Bool ?? true, timeout: timeout,
                                     dryRun: object["dry_run"] as? Bool ?? false)
        switch verb {
        case .start, .stop, .restart, .signal:
            if names.isEmpty { return .failure(.error(id: id, "bad_request", "\(cmd) needs \"names\"")) }
        case .scale:
            if names.count != 1 || request.count == nil { return .failure(.error(id: id, "bad_request", "scale needs one pool in \"names\" and \"count\"")) }
        case .reload, .status: break
        }
        if verb == .signal, request.signal == nil { return .failure(.error(id: id, "bad_request", "signal needs \"signal\" (HUP, TERM, ...)")) }
        return .success(request)
    }

    static func scalarJSON(_ value: Any) -> String? {
        switch value {
        case let s as String: return QuotedJSON.quote(s)
        case let n as NSNumber: return n.stringValue
        default: return nil
        }
    }
}

/// Signals an operator may send: `KILL` only with force.
public enum ControlSignals {
    public static let allowed: [String: Int32] = [
        "HUP": SIGHUP, "INT": SIGINT, "QUIT": SIGQUIT, "USR1": SIGUSR1, "USR2": SIGUSR2, "TERM": SIGTERM,
        "WINCH": SIGWINCH, "CONT": SIGCONT,
    ]
    /// The signal number for a name ("HUP", "SIGHUP", "hup"); nil when not allowed. KILL needs `force`.
    public static func number(_ name: String, force: Bool) -> Int32? {
        var n = name.uppercased()
        if n.hasPrefix("SIG") { n.removeFirst(3) }
        if n == "KILL" { return force ? SIGKILL : nil }
        return allowed[n]
    }
}
