import Foundation
import Testing
@testable import HistConfig
import HistModel

#if canImport(Glibc)
import Glibc
#endif

/// `[supervisor] metrics_*`: values that work, and each refusal `histd check` must make.
@Suite struct MetricsConfigTests {
    @Test func offByDefault() throws {
        let dir = ConfigDir()
        let c = try dir.load("[program.a]\ncommand = \"/bin/sh\"\n")
        #expect(c.supervisor.metrics == MetricsSpec())
        #expect(c.supervisor.metrics.isOff)
        #expect(c.supervisor.metrics.interval == .seconds(15))
    }

    @Test func loopbackUnixAndTextfileAreAccepted() throws {
        let dir = ConfigDir()
        dir.mkdir("textfiles")
        let port = try Self.freePort()
        let c = try dir.load("""
            [supervisor]
            metrics_listen = "127.0.0.1:\(port)"
            metrics_textfile = "textfiles/histd.prom"
            metrics_interval = "5s"
            """)
        #expect(c.supervisor.metrics.listen == .tcp(host: "127.0.0.1", port: port))
        #expect(c.supervisor.metrics.textfile == dir.path + "/textfiles/histd.prom")
        #expect(c.supervisor.metrics.interval == .seconds(5))
        let u = try dir.load("[supervisor]\nmetrics_listen = \"unix:metrics.sock\"\n")
        #expect(u.supervisor.metrics.listen == .unix(path: dir.path + "/metrics.sock"))
        let l = try dir.load("[supervisor]\nmetrics_listen = \"localhost:\(port)\"\n")
        #expect(l.supervisor.metrics.listen == .tcp(host: "127.0.0.1", port: port))
    }

    @Test func nonLoopbackNeedsAllowRemote() throws {
        let dir = ConfigDir()
        let port = try Self.freePort()
        let problems = dir.problems("[supervisor]\nmetrics_listen = \"0.0.0.0:\(port)\"\n")
        expectProblem(problems, line: 2, key: "supervisor.metrics_listen", contains: "can be reached from other machines")
        expectProblem(problems, line: 2, key: "supervisor.metrics_listen", contains: "metrics_allow_remote = true")
        let c = try dir.load("[supervisor]\nmetrics_allow_remote = true\nmetrics_listen = \"0.0.0.0:\(port)\"\n")
        #expect(c.supervisor.metrics.listen == .tcp(host: "0.0.0.0", port: port))
        #expect(c.supervisor.metrics.allowRemote)
    }

    @Test func aPortInUseIsRefused() throws {
        let dir = ConfigDir()
        let (fd, port) = try Self.listeningSocket()
        defer { close(fd) }
        let problems = dir.problems("[supervisor]\n\nmetrics_listen = \"127.0.0.1:\(port)\"\n")
        expectProblem(problems, line: 3, key: "supervisor.metrics_listen", contains: "port \(port) on 127.0.0.1 is in use")
    }

    @Test func aTextfileInAMissingDirectoryIsRefused() {
        let dir = ConfigDir()
        let problems = dir.problems("[supervisor]\nmetrics_textfile = \"no-such-dir/histd.prom\"\n")
        expectProblem(problems, line: 2, key: "supervisor.metrics_textfile", contains: "the directory \(dir.path)/no-such-dir does not exist")
        let asDir = dir.problems("[supervisor]\nmetrics_textfile = \".\"\n")
        expectProblem(asDir, line: 2, key: "supervisor.metrics_textfile", contains: "is a directory")
    }

    static let badAddresses: [(String, String)] = [
        ("9464", "expected HOST:PORT"),
        ("127.0.0.1:0", "is not a port number"),
        ("127.0.0.1:99999", "is not a port number"),
        ("example.com:9464", "is not an IPv4 address or localhost"),
        ("[::1:9464", "expected [IPV6]:PORT"),
        ("unix:", "needs a socket path"),
    ]

    @Test(arguments: badAddresses)
    func badAddressesAreExplained(_ text: String, _ message: String) {
        let dir = ConfigDir()
        let problems = dir.problems("[supervisor]\nmetrics_listen = \"\(text)\"\n")
        expectProblem(problems, line: 2, key: "supervisor.metrics_listen", contains: message)
    }

    @Test func metricsIntervalRange() {
        let dir = ConfigDir()
        expectProblem(dir.problems("[supervisor]\nmetrics_interval = \"100ms\"\n"), line: 2,
                      key: "supervisor.metrics_interval", contains: "1s")
    }

    @Test func aUnixPathSomeoneListensOnIsRefused() throws {
        let dir = ConfigDir()
        let path = dir.path + "/m.sock"
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in for (i, b) in path.utf8.enumerated() { raw[i] = b } }
        let rc = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) } }
        try #require(rc == 0 && listen(fd, 1) == 0)
        expectProblem(dir.problems("[supervisor]\nmetrics_listen = \"\(path)\"\n"), line: 2,
                      key: "supervisor.metrics_listen", contains: "is in use")
    }

    // MARK: helpers

    /// A socket listening on 127.0.0.1 at a kernel-chosen port.
    static func listeningSocket() throws -> (Int32, UInt16) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        let rc = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard rc == 0, listen(fd, 1) == 0 else { close(fd); throw POSIXError(.EADDRINUSE) }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        return (fd, UInt16(bigEndian: addr.sin_port))
    }

    /// A port that was free a moment ago.
    static func freePort() throws -> UInt16 {
        let (fd, port) = try listeningSocket()
        close(fd)
        return port
    }
}
