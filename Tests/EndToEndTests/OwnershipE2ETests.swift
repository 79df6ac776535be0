import Foundation
import GRDB
import Testing

#if canImport(Glibc)
import Glibc
#endif

extension EndToEnd {
    /// Signals, fd limits and recovery after histd's own death, against the real binary.
    @Suite struct Ownership {
        /// Every signal has a defined behaviour: USR1 reopens logs, HUP and the rest are logged and
        /// ignored (each once), and histd and its program live on; TERM and INT shut down cleanly.
        @Test(arguments: [SIGTERM, SIGINT])
        func signalsHaveDefinedBehaviour(shutdownSignal: Int32) throws {
            let ws = try Workspace("signals")
            defer { ws.cleanup() }
            let config = try ws.write("s.toml", """
                [supervisor]
                db = "h.db"
                log_dir = "logs"
                snapshot_interval = "off"
                scan_interval = "off"

                [program.talker]
                command = ["/bin/sh", "-c", "while true; do echo tick; sleep 0.05; done"]
                """)
            let histd = try ws.runHistd(config: config)
            let db = HistoryDB(path: ws.path("h.db"))
            try #require(E2E.waitUntil(20) { db.events("start") >= 1 }, "\(ws.log())")
            let ignored: [Int32] = [SIGHUP, SIGUSR2, SIGPIPE, SIGALRM, SIGQUIT, SIGWINCH, SIGURG, SIGXCPU, SIGVTALRM,
                                    SIGPROF, SIGIO, SIGPWR, SIGSYS, SIGTSTP, SIGTTIN, SIGTTOU, SIGSTKFLT, 40, 64]
            for sig in ignored + ignored {
                kill(histd.pid, sig)
                Thread.sleep(forTimeInterval: 0.01)
            }
            // USR1 after an outside rotation: the log file is created again and written.
            let out = ws.path("logs/talker.out")
            try #require(E2E.waitUntil(10) { FileManager.default.fileExists(atPath: out) })
            try FileManager.default.moveItem(atPath: out, toPath: out + ".rotated")
            kill(histd.pid, SIGUSR1)
            #expect(E2E.waitUntil(10) { (try? String(contentsOfFile: out, encoding: .utf8))?.contains("tick") == true },
                    "SIGUSR1 did not reopen the log file: \(ws.log())")
            #expect(E2E.waitUntil(10) { ws.log().contains("received SIGSYS:") && ws.log().contains("received SIG64:") }, "\(ws.log())")
            #expect(histd.isRunning, "a signal killed histd: \(ws.log())")
            #expect(db.events("start") == 1, "the program was restarted: \(ws.log())")
            let log = ws.log()
            for name in ["SIGUSR2", "SIGPIPE", "SIGALRM", "SIGQUIT", "SIGWINCH", "SIGTSTP", "SIG40"] {
                let lines = log.split(separator: "\n").filter { $0.contains("received \(name):") }
                #expect(lines.count == 1, "\(name): \(lines.count) log lines, want 1 (logged once)")
            }
            #expect(log.split(separator: "\n").filter { $0.contains("received SIGHUP") }.count == 2, "SIGHUP is logged each time")
            kill(histd.pid, shutdownSignal)
            #expect(histd.waitForExit(timeout: 30))
            #expect(histd.exitCode == 0, "\(ws.log())")
        }

        /// Under `ulimit -n 1024` (soft and hard: histd cannot raise it), a program with 2,000
        /// children must not eat the fds an unrelated program needs to restart: its /proc fd cache
        /// is sized from the limit.
        @Test func wideTreeUnderUlimit1024DoesNotStarveRestarts() throws {
            let ws = try Workspace("ulimit")
            defer { ws.cleanup() }
            let config = try ws.write("u.toml", """
                [supervisor]
                db = "h.db"
                log_dir = "logs"
                snapshot_interval = "200ms"
                scan_interval = "off"
                shutdown_timeout = "30s"

                [program.wide]
                command = ["/bin/sh", "-c", "i=0; while [ $i -lt 2000 ]; do sleep 1000 & i=$((i+1)); done; touch \(ws.path("wide.ready")); wait"]

                [program.crasher]
                command = ["/bin/sh", "-c", "sleep 0.2; exit 1"]
                restart_delay = "100ms"
                backoff_factor = 1
                max_restarts = 0
                """)
            let histd = try ws.runHistd(config: config, fileLimit: 1024)
            let db = HistoryDB(path: ws.path("h.db"))
            try #require(E2E.waitUntil(120) { FileManager.default.fileExists(atPath: ws.path("wide.ready")) }, "\(ws.log())")
            // A few sampling sweeps over the 2,000 processes (the cache fills during the first).
            Thread.sleep(forTimeInterval: 1.0)
            let before = db.instances("crasher")
            Thread.sleep(forTimeInterval: 3.0)
            let during = db.instances("crasher") - before
            // Each crash cycle is 0.2 s + 0.1 s backoff: 3 s hold about 10 of them; 3 is "restarting on time".
            #expect(during >= 3, "crasher restarted \(during) times in 3 s beside a 2,000-child tree: \(ws.log())")
            #expect(db.events("spawn_failed") == 0, "\(ws.log())")
            let fds = Procfs.fdCount(histd.pid)
            #expect(fds < 1024 - 256, "histd holds \(fds) fds under a limit of 1024")
            #expect(histd.isRunning)
            #expect(histd.stop(timeout: 60) == 0, "\(ws.log())")
        }
    }
}
