import Foundation
import GRDB
import Testing

#if canImport(Glibc)
import Glibc
#endif

extension EndToEnd {
    /// Orphans through histd: a double-forked sleeper comes to histd (a subreaper), is recorded as an
    /// orphan of the program it came from, and is stopped at shutdown.
    @Suite struct Orphans {
        @Test func doubleForkedSleeperIsAttributedToItsProgramAndStoppedAtShutdown() throws {
            let ws = try Workspace("orphan")
            defer { ws.cleanup() }
            // The subshell forks the sleeper and exits at once; then the program itself exits 0.
            let config = try ws.write("orphan.toml", """
                [supervisor]
                db = "h.db"
                log_dir = "logs"
                snapshot_interval = "200ms"
                scan_interval = "200ms"
                shutdown_timeout = "10s"

                [program.forker]
                command = ["/bin/sh", "-c", "( exec sleep 300 & ) ; sleep 0.3; exit 0"]
                # The orphan must outlive its program for the scanner to see it (kill_mode = "tree" would stop it).
                kill_mode = "process"
                restart = "on-failure"

                [program.bystander]
                command = ["/bin/sh", "-c", "exec sleep 300"]
                """)
            let db = HistoryDB(path: ws.path("h.db"))
            let histd = try ws.runHistd(config: config)
            let ok = E2E.waitUntil(15) {
                db.intOrZero("SELECT count(*) FROM orphan_intervals WHERE program = 'forker' AND scans >= 2") >= 1
                    && db.instances("forker", class: "clean") == 1
            }
            #expect(ok, "no orphan attributed to forker in 15 s:\n\(ws.log())")

            // The sleeper, seen from the test: re-parented to histd, and the one the scan recorded.
            let sleepers = Procfs.children(of: histd.pid).filter { $0.comm == "sleep" }
            let orphans = try db.rows("""
                SELECT o.pid, o.start_ticks, o.name, o.reason, p.name AS program, o.first_seen, o.last_seen
                FROM orphans o LEFT JOIN programs p ON p.id = o.program_id
                """)
            let forkerOrphans = orphans.filter { $0["program"] as String? == "forker" }
            #expect(forkerOrphans.count == 1, "\(orphans)")
            let o = try #require(forkerOrphans.first)
            #expect(o["name"] as String? == "sleep")
            #expect(o["reason"] as String? == "adopted_by_histd")
            #expect((o["last_seen"] as Int64? ?? 0) > (o["first_seen"] as Int64? ?? 0), "one interval over several scans")
            #expect(sleepers.contains { $0.pid == o["pid"] as Int32? && $0.startTicks == o["start_ticks"] as UInt64? },
                    "the recorded orphan is not histd's sleeping child: \(sleepers) vs \(o)")
            // bystander's own process is supervised, not an orphan.
            #expect(!orphans.contains { $0["program"] as String? == "bystander" })

            #expect(histd.stop() == 0, "\(ws.log())")
            #expect(ws.markedProcesses().isEmpty, "left behind after shutdown: \(ws.markedProcesses())")
            if let pid = o["pid"] as Int32?, let ticks = o["start_ticks"] as UInt64? {
                #expect(!Procfs.isAlive(pid: pid, startTicks: ticks), "the orphan survived the shutdown")
            }
        }
    }
}
