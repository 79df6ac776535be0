import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

extension EndToEnd {
    /// `Type=notify`: a real AF_UNIX datagram socket stands in for systemd's $NOTIFY_SOCKET.
    @Suite struct ServiceNotify {
        /// A bound datagram socket (a path, or an abstract name when `abstract`).
        final class NotifySocket {
            let fd: Int32
            let name: String

            init(path: String, abstract: Bool) throws {
                let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
                guard fd >= 0 else { throw E2EError("socket: \(String(cString: strerror(errno)))") }
                var addr = sockaddr_un()
                addr.sun_family = sa_family_t(AF_UNIX)
                var bytes = Array(path.utf8)
                if abstract { bytes.insert(0, at: 0) }
                withUnsafeMutableBytes(of: &addr.sun_path) { raw in for (i, b) in bytes.enumerated() { raw[i] = b } }
                let length = socklen_t(MemoryLayout<sockaddr_un>.offset(of: \.sun_path)! + bytes.count + (abstract ? 0 : 1))
                let rc = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
                guard rc == 0 else { close(fd); throw E2EError("bind \(path): \(String(cString: strerror(errno)))") }
                self.fd = fd
                name = abstract ? "@" + path : path
            }

            deinit { close(fd) }

            /// The next datagram, or nil after `timeout` seconds.
            func receive(timeout: Double) -> String? {
                var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                guard poll(&p, 1, Int32(timeout * 1000)) == 1 else { return nil }
                var buf = [UInt8](repeating: 0, count: 4096)
                let n = recv(fd, &buf, buf.count, 0)
                return n > 0 ? String(decoding: buf[..<n], as: UTF8.self) : nil
            }
        }

        @Test(arguments: [false, true])
        func readyAfterEveryAutostartProgramThenStopping(abstract: Bool) throws {
            let ws = try Workspace("notify")
            defer { ws.cleanup() }
            let socket = try NotifySocket(path: abstract ? "histd-test-\(UUID().uuidString)" : ws.path("notify.sock"), abstract: abstract)
            let config = try ws.write("notify.toml", """
                [supervisor]
                db = "h.db"
                log_dir = "logs"
                snapshot_interval = "off"
                scan_interval = "off"

                [program.first]
                command = ["/bin/sh", "-c", "env > \(ws.path("first.env")); exec sleep 300"]
                stop_order = 1
                [program.second]
                command = ["/bin/sleep", "300"]
                [program.manual]
                command = ["/bin/sleep", "300"]
                autostart = false
                """)
            let histd = try HistdProcess(args: ["run", "--config", config], environment: [
                Workspace.markerKey: ws.markerValue, "NOTIFY_SOCKET": socket.name,
            ], log: ws.path("histd.log"), cwd: ws.dir)
            defer { histd.kill9() }
            let ready = socket.receive(timeout: 30)
            #expect(ready?.split(separator: "\n").contains("READY=1") == true, "got \(ready ?? "nothing"):\n\(ws.log())")
            #expect(ready?.contains("MAINPID=\(histd.pid)") == true)
            // When READY arrives, both autostart programs are already running children of histd.
            let children = Procfs.children(of: histd.pid).map(\.comm)
            #expect(children.filter { $0 == "sleep" || $0 == "sh" }.count == 2, "children at READY: \(children)")
            kill(histd.pid, SIGTERM)
            let stopping = socket.receive(timeout: 30)
            #expect(stopping?.split(separator: "\n").contains("STOPPING=1") == true, "got \(stopping ?? "nothing")")
            #expect(histd.waitForExit(timeout: 30))
            #expect(histd.exitCode == 0)
            // The programs do not inherit histd's line to systemd.
            let env = (try? String(contentsOfFile: ws.path("first.env"), encoding: .utf8)) ?? ""
            #expect(env.contains(Workspace.markerKey))
            #expect(!env.contains("NOTIFY_SOCKET"))
        }
    }
}
