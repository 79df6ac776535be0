import ArgumentParser
import Foundation
import HistSys
import HistConfig
import HistModel

#if canImport(Glibc)
import Glibc
#endif

/// histctl's side of the control socket (docs/CONTROL.md): one connection, one request line, one
/// reply line. histctl never writes the database; histd records what it is asked.
struct ControlClient {
    let path: String
    let source: SocketLocation.Source

    /// Why talking to histd did not work, with the exit code it maps to.
    struct Unreachable: Error {
        var message: String
        var code: Int32
    }

    /// Connects, sends `request`, and waits up to `timeout` for the reply.
    func send(_ request: [String: Any], timeout: Duration) throws(Unreachable) -> [String: Any] {
        let text = try sendLine(request, timeout: timeout)
        guard let object = try? JSONSerialization.jsonObject(with: Data(text)) as? [String: Any] else {
            throw Unreachable(message: "histd's answer is not JSON", code: 1)
        }
        return object
    }

    /// Connects, sends `request`, and returns the reply line (without its newline), undecoded: a caller
    /// that needs only a few fields decodes it into a struct (`LiveStatus`), which for 500 units costs a
    /// fraction of JSONSerialization's tree of bridged objects.
    func sendLine(_ request: [String: Any], timeout: Duration) throws(Unreachable) -> ArraySlice<UInt8> {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw Unreachable(message: "socket: \(String(cString: strerror(errno)))", code: 1) }
        defer { close(fd) }
        guard Sys.unixAddress(path) != nil else {
            throw Unreachable(message: "control socket path too long: \(path)", code: 64)
        }
        let rc = Sys.connectUnix(fd, path)
        if rc != 0 {
            let e = errno
            if e == EACCES || e == EPERM {
                throw Unreachable(message: "permission denied on the control socket \(path) (ask for control_group or read_group)", code: 77)
            }
            throw Unreachable(message: "histd is not reachable at \(path) (from \(source.rawValue)): \(String(cString: strerror(e)))", code: 1)
        }
        guard var line = Self.encode(request) else {
            throw Unreachable(message: "cannot encode the request", code: 1)
        }
        line.append(10)
        let sent = line.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        guard sent == line.count else { throw Unreachable(message: "histd closed the connection at \(path)", code: 1) }
        var reply = [UInt8]()
        var buf = [UInt8](repeating: 0, count: 64 * 1024)
        let deadline = ContinuousClock.now + timeout
        var scanned = 0 // bytes already searched for the newline (each read's bytes are searched once)
        while !reply[scanned...].contains(10) {
            scanned = reply.count
            let left = deadline - ContinuousClock.now
            guard left > .zero else { throw Unreachable(message: "no answer from histd within \(HistDuration.format(timeout))", code: 1) }
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ms = Int32(min(left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000 + 1, 60_000))
            if poll(&p, 1, ms) <= 0 { continue }
            let n = read(fd, &buf, buf.count)
            if n <= 0 { throw Unreachable(message: "histd closed the connection without an answer", code: 1) }
            reply += buf[0..<n]
        }
        return reply[..<reply[scanned...].firstIndex(of: 10)!]
    }

    /// A request as one JSON object (keys sorted). Requests hold only strings, integers, booleans and
    /// string lists, so this is a switch on those; JSONSerialization cost 5 M instructions for the first
    /// (and only) object a histctl run encodes, most of it first-use type lookups.
    static func encode(_ request: [String: Any]) -> [UInt8]? {
        var out: [UInt8] = [UInt8(ascii: "{")]
        for (n, key) in request.keys.sorted().enumerated() {
            if n > 0 { out.append(UInt8(ascii: ",")) }
            QuotedString.append(key, to: &out)
            out.append(UInt8(ascii: ":"))
            switch request[key]! {
            case let s as String: QuotedString.append(s, to: &out)
            case let b as Bool: out += Array((b ? "true" : "false").utf8)
            case let i as Int: out += Array(String(i).utf8)
            case let list as [String]:
                out.append(UInt8(ascii: "["))
                for (k, s) in list.enumerated() {
                    if k > 0 { out.append(UInt8(ascii: ",")) }
                    QuotedString.append(s, to: &out)
                }
                out.append(UInt8(ascii: "]"))
            default: return nil
            }
        }
        out.append(UInt8(ascii: "}"))
        return out
    }

    /// Exit code for a reply's `result` (the README's table).
    static func exitCode(result: String) -> Int32 {
        switch result {
        case "done", "already": 0
        case "no_such_unit", "bad_request", "invalid", "unsupported_version": 64
        case "refused": 77
        default: 1
        }
    }
}

/// Where the control socket is: --socket, $HISTD_SOCKET, the config's control_socket, the default.
struct ControlOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The control socket (default: $HISTD_SOCKET, then the config's control_socket, then /run/histd/control.sock as root, else $XDG_RUNTIME_DIR/histd/control.sock).", valueName: "path"))
    var socket: String?

    @Option(name: .long, help: ArgumentHelp("A histd config file whose control_socket names the socket.", valueName: "file"))
    var config: String?

    @Option(help: ArgumentHelp("How long to wait for the action to take effect (default 30s).", valueName: "duration"))
    var timeout: String = "30s"

    @Flag(help: "Return once histd has begun the action, without waiting for it to take effect.")
    var noWait = false

    var environment: [String: String] { ProcessInfo.processInfo.environment }

    /// True when the socket was named explicitly (--socket, $HISTD_SOCKET, or a config with control_socket).
    func explicit() throws -> Bool {
        if socket != nil || !(environment["HISTD_SOCKET"] ?? "").isEmpty { return true }
        guard let config else { return false }
        return try loadConfig(config).supervisor.controlSocket != nil
    }

    func client() throws -> ControlClient {
        var configSocket: String?
        if (socket ?? "").isEmpty, (environment["HISTD_SOCKET"] ?? "").isEmpty, let config {
            configSocket = try loadConfig(config).supervisor.controlSocket
        }
        let location = SocketLocation.resolve(flag: socket, environment: environment, configSocket: configSocket)
        return ControlClient(path: location.path, source: location.source)
    }

    func waitDuration() throws -> Duration { try duration(timeout, option: "--timeout") }

    /// Sends a request, prints the answer (stdout when ok, stderr otherwise) and exits with its code.
    func perform(_ request: [String: Any]) throws {
        var request = request
        request["v"] = 1
        request["wait"] = !noWait
        let wait = try waitDuration()
        request["timeout_ms"] = Int(wait.components.seconds * 1000 + wait.components.attoseconds / 1_000_000_000_000_000)
        let reply: [String: Any]
        do {
            reply = try client().send(request, timeout: wait + .seconds(5))
        } catch let e as ControlClient.Unreachable {
            FileHandle.standardError.write(Data("histctl: \(e.message)\n".utf8))
            throw ExitCode(e.code)
        }
        let result = reply["result"] as? String ?? "failed"
        let message = reply["message"] as? String ?? result
        let code = ControlClient.exitCode(result: result)
        if code == 0 {
            print(message)
        } else {
            FileHandle.standardError.write(Data(message.split(separator: "\n").map { "histctl: \($0)\n" }.joined().utf8))
        }
        if code != 0 { throw ExitCode(code) }
    }
}
