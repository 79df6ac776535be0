import Foundation
import GRDB
import Testing

#if canImport(Glibc)
import Glibc
#endif

extension EndToEnd {
    /// `histd run` reloading its config on SIGHUP, checked against the real processes' pids.
    @Suite struct Reload {
        static let header = """
            [supervisor]
            db = "h.db"
            log_dir = "logs"
            snapshot_interval = "off"
            scan_interval = "off"
            shutdown_timeout = "10s"

            """

        static func program(_ name: String, _ extra: String = "", stopTimeout: String = "5s") -> String {
            """

            [program.\(name)]
            command = ["/bin/sleep", "300"]
            stop_timeout = "\(stopTimeout)"
            \(extra)

            """
        }

        /// Open instances of the latest run: "name" or "pool.index" -> pid.
        static func livePIDs(_ db: HistoryDB) throws -> [String: Int32] {
            let rows = try db.rows("""
                SELECT p.name AS name, i.worker_index AS w, i.pid AS pid FROM instances i JOIN programs p ON p.id = i.program_id
                WHERE i.ended_at IS NULL AND i.run_id = (SELECT max(id) FROM runs)
                """)
            var out: [String: Int32] = [:]
            for r in rows {
                let w: Int? = r["w"]
                out[w.map { "\(r["name"] as String).\($0)" } ?? r["name"]] = r["pid"]
            }
            return out
        }

        static func alive(_ pid: Int32) -> Bool { kill(pid, 0) == 0 && Procfs.info(pid)?.state != "Z" }

        @Test func sighupAddsRemovesRestartsAndUpdatesInPlace() throws {
            let ws = try Workspace("reload")
            defer { ws.cleanup() }
            let before = Self.header
                + Self.program("keep")
                + Self.program("changed", "env = { MODE = \"a\" }")
                + Self.program("inplace", "max_restarts = 5")
                + Self.program("removed")
                + """

                [pool.jobs]
                command = ["/bin/sleep", "300"]
                min_workers = 1
                max_workers = 1
                stop_timeout = "5s"

                """
            let config = try ws.write("histd.toml", before)
            let db = HistoryDB(path: ws.path("h.db"))
            let histd = try ws.runHistd(config: config)
            var pids: [String: Int32] = [:]
            try #require(E2E.waitUntil(20) { pids = (try? Self.livePIDs(db)) ?? [:]; return pids.count == 5 },
                         "histd did not start 5 processes: \(pids)\n\(ws.log())")

            let after = Self.header
                + Self.program("keep")
                + Self.program("changed", "env = { MODE = \"b\" }")
                + Self.program("inplace", "max_restarts = 9", stopTimeout: "2s")
                + Self.program("added")
                + """

                [pool.jobs]
                command = ["/bin/sleep", "300"]
                min_workers = 2
                max_workers = 2
                stop_timeout = "5s"

                """
            try ws.write("histd.toml", after)
            kill(histd.pid, SIGHUP)

            var now: [String: Int32] = [:]
            let settled = E2E.waitUntil(20) {
                now = (try? Self.livePIDs(db)) ?? [:]
                return now["added"] != nil && now["removed"] == nil && now["jobs.1"] != nil
                    && now["changed"] != nil && now["changed"] != pids["changed"]
            }
            #expect(settled, "reload did not settle: before \(pids), now \(now)\n\(ws.log())")
            // Unchanged and in-place: the same processes.
            #expect(now["keep"] == pids["keep"])
            #expect(now["inplace"] == pids["inplace"])
            #expect(now["jobs.0"] == pids["jobs.0"], "scaling up keeps the existing worker")
            #expect(Self.alive(pids["keep"]!) && Self.alive(pids["inplace"]!) && Self.alive(pids["jobs.0"]!))
            // Restarted with the new env, removed stopped (and really gone).
            #expect(!Self.alive(pids["changed"]!))
            #expect(!Self.alive(pids["removed"]!))
            if let p = now["changed"] {
                let env = (try? String(contentsOfFile: "/proc/\(p)/environ", encoding: .utf8)) ?? ""
                #expect(env.split(separator: "\0").contains("MODE=b"), "restarted with the new env")
            }
            #expect(try db.int("""
                SELECT count(*) FROM event_log WHERE kind = 'stop_requested' AND program = 'removed' AND detail LIKE '%reload%'
                """) == 1)
            // The stop of the restarted program is an operator stop, never a crash.
            #expect(try db.int("SELECT count(*) FROM crashes") == 0)

            // The reload row: SIGHUP, from this test process, with both hashes and the plan.
            let rows = try db.rows("SELECT * FROM reload_log ORDER BY id")
            try #require(rows.count == 1, "\(rows)")
            let r = rows[0]
            #expect(r["trigger"] as String? == "sighup")
            #expect(r["sender_pid"] as Int32? == getpid())
            #expect(r["sender_uid"] as Int64? == Int64(getuid()))
            #expect(r["result"] as String? == "applied")
            #expect(r["generation"] as Int? == 1)
            #expect(r["old_hash"] as String? != r["new_hash"] as String?)
            let plan = try JSONSerialization.jsonObject(with: Data((r["plan_json"] as String? ?? "{}").utf8)) as? [String: Any]
            #expect(plan?["start"] as? [String] == ["added"])
            #expect(plan?["stop"] as? [String] == ["removed"])
            // On the timeline: one config_reload event, shown by histctl events.
            let events = try E2E.run(E2E.histctl, ["events", "--since", "1h", "--db", ws.path("h.db")])
            #expect(events.stdout.contains("config_reload     applied (sighup from pid \(getpid()) (uid \(getuid()))), reload 1"), "\(events.stdout)")
            // Generations: 0 (start) and 1 (the reload), each with every program's config.
            #expect(try db.int("SELECT count(*) FROM config_history WHERE generation = 0") == 5)
            #expect(try db.int("SELECT count(*) FROM config_history WHERE generation = 1") == 5)
            #expect(try db.int("""
                SELECT count(*) FROM config_history WHERE generation = 1 AND program = 'inplace'
                  AND json_extract(config_json, '$.backoff.maxRestarts') = 9
                """) == 1)

            // An invalid file changes nothing: same pids, errors logged with FILE:LINE: KEY.
            try ws.write("histd.toml", after + "\n[program.bad]\ncommand = [\"/bin/sleep\", \"300\"]\nstop_timeout = \"soon\"\n")
            kill(histd.pid, SIGHUP)
            #expect(E2E.waitUntil(20) { db.intOrZero("SELECT count(*) FROM reloads WHERE result = 'invalid'") == 1 },
                    "\(ws.log())")
            let errors = try db.rows("SELECT errors FROM reloads WHERE result = 'invalid'").first?["errors"] as String? ?? ""
            #expect(errors.contains("histd.toml:") && errors.contains("program.bad.stop_timeout"), "\(errors)")
            #expect(ws.log().contains("program.bad.stop_timeout"))
            // A refused key (db) changes nothing either.
            try ws.write("histd.toml", after.replacingOccurrences(of: "db = \"h.db\"", with: "db = \"other.db\""))
            kill(histd.pid, SIGHUP)
            #expect(E2E.waitUntil(20) { db.intOrZero("SELECT count(*) FROM reloads WHERE result = 'refused'") == 1 },
                    "\(ws.log())")
            let refused = try db.rows("SELECT errors FROM reloads WHERE result = 'refused'").first?["errors"] as String? ?? ""
            #expect(refused.contains("histd.toml:2: supervisor.db: cannot change while histd runs"), "\(refused)")
            Thread.sleep(forTimeInterval: 0.5)
            #expect(try Self.livePIDs(db) == now, "a refused or invalid reload changed processes")
            for (_, pid) in now { #expect(Self.alive(pid)) }
            #expect(histd.stop() == 0, "\(ws.log())")
        }
    }
}
