import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

extension EndToEnd {
    /// `histctl status` from the record after histd was killed with SIGKILL: never `running`.
    @Suite struct DeadSupervisorStatus {
        @Test func statusAfterKillNineSaysUnknownNotRunning() throws {
            let ws = try Workspace("deadstatus")
            defer { ws.cleanup() }
            let config = try ws.write("histd.toml", """
                [supervisor]
                db = "h.db"
                log_dir = "logs"
                snapshot_interval = "off"
                scan_interval = "off"

                [program.web]
                command = ["/bin/sleep", "300"]

                [pool.jobs]
                command = ["/bin/sleep", "300"]
                min_workers = 2
                max_workers = 2

                """)
            let histd = try ws.runHistd(config: config)
            let db = HistoryDB(path: ws.path("h.db"))
            try #require(E2E.waitUntil(20) { db.events("start") == 3 }, "\(ws.log())")

            func status() throws -> [[String: Any]] {
                let r = try E2E.run(E2E.histctl, ["status", "--db", ws.path("h.db"), "--format", "json"])
                #expect(r.status == 0, "\(r.stderr)")
                return (try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [[String: Any]]) ?? []
            }
            // Alive: running, with its pid.
            let live = try status()
            #expect(live.first { $0["program"] as? String == "web" }?["state"] as? String == "running", "\(live)")
            #expect(live.first { $0["program"] as? String == "jobs" }?["state"] as? String == "running", "\(live)")

            histd.kill9()
            // Its children live on (histd did not stop them), but nobody supervises them.
            let rows = try status()
            try #require(rows.count == 2, "\(rows)")
            for row in rows {
                let state = row["state"] as? String ?? ""
                #expect(state.hasPrefix("unknown (histd not running since 20"), "\(row)")
                #expect(row["pid"] is NSNull, "\(row)")
                #expect(row["run_open"] as? Bool == true, "the record still says the run is open")
            }
            let table = try E2E.run(E2E.histctl, ["status", "--db", ws.path("h.db")])
            #expect(!table.stdout.replacingOccurrences(of: "histd not running", with: "").contains("running"), "\(table.stdout)")
        }
    }
}
