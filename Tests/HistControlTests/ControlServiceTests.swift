import Foundation
import HistCore
import HistModel
import Logging
import Testing
@testable import HistControl

#if canImport(Glibc)
import Glibc
#endif

/// The control socket as one of histd run's services (ServiceStack): a start that fails after it
/// removes its socket file, and the engine started before it is shut down.
@Suite struct ControlServiceTests {
    struct Broken: Error {}

    @Test func aFailedStartAfterTheSocketRemovesIt() async throws {
        let d = NSTemporaryDirectory() + "histcontrol-svc-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: d) }
        let logger: Logger = {
            var l = Logger(label: "histd.test.control-service")
            l.logLevel = .critical
            return l
        }()
        let stack = ServiceStack(logger: logger)
        let path = d + "/control.sock"
        let spec = SupervisorSpec(logDir: d + "/logs")
        let supervisor = try await stack.start("engine", start: {
            let s = try Supervisor(programs: [], supervisor: spec, sink: DiscardingSink(), logger: logger,
                                   options: SupervisorOptions(reapScope: .supervisedOnly, handleSignals: false))
            try s.start()
            return s
        }, stop: { s in
            if !s.isFinished { _ = s.post(.shutdown) }
            await s.waitUntilFinished()
        })
        _ = try await stack.startBlocking("control", start: {
            let server = try ControlServer(socket: try ControlSocket(path: path, group: nil), supervisor: supervisor,
                                           sink: DiscardingSink(), access: ControlAccess(), logger: logger)
            server.start()
            return server
        }, stop: { $0.stop() })
        var st = stat()
        #expect(lstat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFSOCK, "the socket was not made")

        await #expect(throws: ServiceStack.StartFailure.self) {
            try await stack.start(.blocking("shipper", start: { throw Broken() }, stop: {}))
        }
        #expect(lstat(path, &st) != 0, "the socket file was left behind")
        #expect(supervisor.isFinished)
        #expect(stack.state == .stopped)
    }
}
