import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

extension EndToEnd {
    /// `histd run` when a start fails half way (ServiceStack): what had started is stopped in
    /// reverse before histd exits 1, and nothing supervised was started.
    @Suite struct RunStartFailure {
        /// The metrics listener (a unix socket) starts first, then the writer fails on a file that is
        /// not a database: histd exits 1 with the reason, the socket file is gone, the program never ran.
        @Test func aDatabaseThatCannotBeUsedStopsTheMetricsListenerStartedBeforeIt() throws {
            let ws = try Workspace("start-failure")
            defer { ws.cleanup() }
            try ws.write("h.db", String(repeating: "not a database\n", count: 300))
            let ran = ws.path("ran")
            let config = try ws.write("histd.toml", """
                [supervisor]
                db = "h.db"
                log_dir = "logs"
                metrics_listen = "\(ws.path("metrics.sock"))"

                [program.never]
                command = ["/bin/sh", "-c", "touch \(ran); exec sleep 1000"]
                """)
            let histd = try ws.runHistd(config: config)
            #expect(histd.waitForExit(timeout: 60), "histd did not exit")
            #expect(histd.exitCode == 1, "\(ws.log())")
            let log = ws.log()
            #expect(log.contains("metrics: serving GET /metrics on"), "the listener did not start first: \(log)")
            #expect(log.contains("cannot use the history database"), "\(log)")
            #expect(access(ws.path("metrics.sock"), F_OK) != 0, "the metrics socket was left behind: \(log)")
            #expect(access(ran, F_OK) != 0, "a program ran although the writer did not start")
        }
    }
}
