import Foundation
import GRDB
import Testing

#if canImport(Glibc)
import Glibc
#endif

extension EndToEnd {
    /// kill_mode = "tree" in a real histd (a subreaper): a process that left its program's session
    /// with setsid is re-parented to histd when the program exits, and must be stopped, and recorded,
    /// before the program starts again.
    @Suite struct TreeDrain {
        @Test func setsidEscaperReparentedToHistdIsStoppedBeforeTheRestart() throws {
            let ws = try Workspace("tree-drain")
            defer { ws.cleanup() }
            let config = try ws.write("tree.toml", """
                [supervisor]
                db = "h.db"
                log_dir = "logs"
                snapshot_interval = "off"
                scan_interval = "off"
                shutdown_timeout = "10s"

                [program.escaper]
                command = ["/bin/sh", "-c", "setsid sleep 1000 & echo $! > \(ws.path("ESC")).$$; sleep 0.3; exit 1"]
                restart_delay = "200ms"
                backoff_factor = 1
                max_restarts = 0
                """)
            let db = HistoryDB(path: ws.path("h.db"))
            let histd = try ws.runHistd(config: config)
            defer { ws.killEverything() }
            // Two instances: the first one's escaper must be gone before the second started.
            try #require(E2E.waitUntil(30) { db.instances("escaper", class: nil) >= 2 }, "\(ws.log())")
            let first = try #require(try db.rows("""
                SELECT i.pid, i.ended_at FROM instances i JOIN programs p ON p.id = i.program_id
                WHERE p.name = 'escaper' ORDER BY i.id LIMIT 1
                """).first)
            let firstPID = try #require(first["pid"] as Int32?)
            let escaperText = try String(contentsOfFile: ws.path("ESC.\(firstPID)"), encoding: .utf8)
            let escaper = try #require(Int32(escaperText.trimmingCharacters(in: .whitespacesAndNewlines)))
            #expect(Procfs.info(escaper) == nil || Procfs.info(escaper)?.state == "Z", "the escaper of the first instance still runs")
            try #require(E2E.waitUntil(10) {
                db.intOrZero("SELECT count(*) FROM swept_processes WHERE program = 'escaper' AND pid = ?", [escaper]) == 1
            }, "the escaper's sweep is not recorded: \(ws.log())")
            let swept = try #require(try db.rows("SELECT ts, signal, reason, gone FROM swept_processes WHERE pid = ?", [escaper]).first)
            #expect(swept["reason"] as String? == "instance_ended")
            #expect(swept["signal"] as Int64? == Int64(SIGTERM))
            #expect(swept["gone"] as Int64? == 1)
            let secondStart = try #require(try db.rows("""
                SELECT i.started_at FROM instances i JOIN programs p ON p.id = i.program_id
                WHERE p.name = 'escaper' ORDER BY i.id LIMIT 1 OFFSET 1
                """).first?["started_at"] as Int64?)
            #expect((swept["ts"] as Int64? ?? .max) <= secondStart, "the restart came before the escaper was stopped")
            #expect(histd.stop() == 0, "\(ws.log())")
        }
    }
}
