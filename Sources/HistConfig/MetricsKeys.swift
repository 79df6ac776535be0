#if canImport(Glibc)
import Glibc
#endif
import HistModel
import HistSys
import TOMLKit

/// The `metrics_*` keys of `[supervisor]`.
extension ConfigValidator {
    static let metricsKeys = ["metrics_listen", "metrics_textfile", "metrics_interval", "metrics_allow_remote"]
    /// `metrics_interval` between these: a textfile rewritten more often than every second is only churn.
    static let metricsIntervalRange: (Duration, Duration) = (.seconds(1), .seconds(3600))

    func metrics(_ table: TOMLTable, path: [String]) -> MetricsSpec {
        var spec = MetricsSpec()
        if let v = table["metrics_allow_remote"], let b = bool(v, path + ["metrics_allow_remote"]) { spec.allowRemote = b }
        if let v = table["metrics_interval"],
           let d = duration(v, path + ["metrics_interval"], atLeast: Self.metricsIntervalRange.0, atMost: Self.metricsIntervalRange.1) {
            spec.interval = d
        }
        if let v = table["metrics_listen"], let text = string(v, path + ["metrics_listen"]) {
            let key = path + ["metrics_listen"]
            switch MetricsAddress.parse(text, relativeTo: configDirectory) {
            case .failure(let e): report(key, e.description)
            case .success(let address):
                if !address.isLocalOnly && !spec.allowRemote {
                    report(key, "\(address) can be reached from other machines, and metrics reveal program names and how they behave; "
                        + "use 127.0.0.1, [::1] or a unix socket path, or set metrics_allow_remote = true")
                } else if let problem = ListenProbe.problem(address) {
                    report(key, problem)
                } else {
                    spec.listen = address
                }
            }
        }
        if let v = table["metrics_textfile"], let p = self.path(v, path + ["metrics_textfile"]) {
            let key = path + ["metrics_textfile"]
            let directory = p.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
            let folder = directory.isEmpty ? "/" : directory
            switch (FileSystem.kind(folder), FileSystem.kind(p)) {
            case (.missing, _): report(key, "the directory \(folder) does not exist")
            case (.file, _), (.other, _): report(key, "\(folder) is not a directory")
            case (_, .directory): report(key, "\(p) is a directory; name the file to write")
            default: spec.textfile = p
            }
        }
        return spec
    }
}

/// Asks the kernel whether histd could listen on an address, without keeping it: binds a socket
/// (with SO_REUSEADDR, as the metrics server does, so a port in TIME_WAIT is not "in use") and
/// closes it. A unix path must be in an existing directory and be free, or a stale socket that
/// nobody answers on (histd replaces it).
enum ListenProbe {
    /// nil when the address is usable; else the reason, for a config problem.
    static func problem(_ address: MetricsAddress) -> String? {
        switch address {
        case .tcp(let host, let port): return tcpProblem(host: host, port: port)
        case .unix(let path): return unixProblem(path)
        }
    }

    private static func tcpProblem(host: String, port: UInt16) -> String? {
        let v6 = host.contains(":")
        let fd = socket(v6 ? AF_INET6 : AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return "cannot create a socket: \(FileSystem.errnoText(errno))" }
        defer { close(fd) }
        var one: Int32 = 1
        _ = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        let rc = Sys.bindInet(fd, host: host, port: port)
        if rc == -2 { return "\"\(host)\" is not an \(v6 ? "IPv6" : "IPv4") address" }
        guard rc == 0 else {
            let e = errno
            if e == EADDRINUSE { return "port \(port) on \(host) is in use by another process" }
            if e == EADDRNOTAVAIL { return "\(host) is not an address of this machine" }
            return "cannot listen on \(host):\(port): \(FileSystem.errnoText(e))"
        }
        return nil
    }

    private static func unixProblem(_ path: String) -> String? {
        let folder = String(path[..<(path.lastIndex(of: "/") ?? path.startIndex)])
        if FileSystem.kind(folder.isEmpty ? "/" : folder) != .directory { return "the directory \(folder) does not exist" }
        if path.utf8.count >= MemoryLayout.size(ofValue: sockaddr_un().sun_path) { return "the socket path is too long for a unix socket" }
        var st = stat()
        guard lstat(path, &st) == 0 else { return nil }
        guard st.st_mode & S_IFMT == S_IFSOCK else { return "\(path) exists and is not a socket" }
        // A socket file: in use when something accepts a connection on it.
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        let rc = Sys.connectUnix(fd, path)
        return rc == 0 ? "\(path) is in use: a process is listening on it" : nil
    }
}
