import Foundation
import GRDB
import Testing

#if canImport(Glibc)
import Glibc
#endif

extension EndToEnd {
    /// Restart state survives a histd restart: `failed` stays failed, a backoff resumes with what
    /// is left of its delay and its attempt count; `restore_state = false` starts fresh.
    @Suite struct RestoreState {
        static func config(_ ws: Workspace, restore: Bool) throws -> String {
            try ws.write("r.toml", """
                [supervisor]
                db = "h.db"
                log_dir = "logs"
                snapshot_interval = "off"
                scan_interval = "off"
                restore_state = \(restore)

                [program.giveup]
                command = ["/bin/sh", "-c", "exit 1"]
                restart_delay = "50ms"
                backoff_factor = 1
                max_restarts = 2

                [program.slow]
                command = ["/bin/sh", "-c", "sleep 0.2; exit 1"]
                restart_delay = "20s"
                backoff_factor = 1
                max_restarts = 0
                """)
        }

        func run(restore: Bool) throws {
            let ws = try Workspace("restore")
            defer { ws.cleanup() }
            let config = try Self.config(ws, restore: restore)
            let db = HistoryDB(path: ws.path("h.db"))
            let first = try ws.runHistd(config: config, logName: "a.log")
            try #require(E2E.waitUntil(30) { db.events("gave_up") == 1 && db.events("restart_scheduled") >= 3 }, "\(ws.log("a.log"))")
            let scheduled = try db.rows("""
                SELECT e.ts, e.value, e.detail FROM events e JOIN programs p ON p.id = e.program_id
                WHERE p.name = 'slow' AND e.kind = 4 ORDER BY e.id DESC LIMIT 1
                """)
            let scheduledAt: Int64 = scheduled[0]["ts"]
            #expect(first.stop() == 0)
            let second = try ws.runHistd(config: config, logName: "b.log")
            try #require(E2E.waitUntil(30) { ws.log("b.log").contains("supervising") }, "\(ws.log("b.log"))")
            let run2 = Int64(db.intOrZero("SELECT max(id) FROM runs"))
            func starts(_ program: String) -> Int {
                db.intOrZero("""
                    SELECT count(*) FROM events e JOIN programs p ON p.id = e.program_id WHERE p.name = ? AND e.kind = 1 AND e.run_id = ?
                    """, [program, run2])
            }
            if restore {
                // The backoff is recorded again with what is left of its 20 s, and the same attempt.
                #expect(E2E.waitUntil(10) { db.events("restart_scheduled", run: run2) >= 1 }, "\(ws.log("b.log"))")
                let r = try db.rows("""
                    SELECT e.ts, e.value, e.detail FROM events e JOIN programs p ON p.id = e.program_id
                    WHERE p.name = 'slow' AND e.kind = 4 AND e.run_id = ? ORDER BY e.id LIMIT 1
                    """, [run2])
                let remaining: Int64 = r.first?["value"] ?? -1
                let restartedAt: Int64 = r.first?["ts"] ?? 0
                #expect(remaining > 0 && remaining <= 20_000 - (restartedAt - scheduledAt) + 50,
                        "remaining \(remaining) ms, \(restartedAt - scheduledAt) ms after a 20 s delay was scheduled")
                #expect((r.first?["detail"] as String?) == (scheduled[0]["detail"] as String?), "attempt count not carried over")
                Thread.sleep(forTimeInterval: 1.5)
                #expect(starts("giveup") == 0, "a failed program was started again: \(ws.log("b.log"))")
                #expect(starts("slow") == 0, "the backoff was not resumed: \(ws.log("b.log"))")
            } else {
                #expect(E2E.waitUntil(10) { starts("giveup") >= 1 && starts("slow") >= 1 }, "\(ws.log("b.log"))")
            }
            #expect(second.stop() == 0)
        }

        @Test func failedStaysFailedAndBackoffResumes() throws { try run(restore: true) }
        @Test func restoreStateFalseStartsFresh() throws { try run(restore: false) }
    }
}
