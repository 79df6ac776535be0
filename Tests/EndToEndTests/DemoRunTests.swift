import Foundation
import GRDB
import Testing

#if canImport(Glibc)
import Glibc
#endif

extension EndToEnd {
    /// A real `histd run` on a demo-like config: what lands in the database, and what histctl shows of it.
    @Suite struct DemoRun {
        @Test func demoConfigRecordsCrashesRestartsSnapshotsScansAndACleanRun() throws {
            let ws = try Workspace("demo")
            defer { ws.cleanup() }
            let config = try ws.write("demo.toml", """
                [supervisor]
                db = "history.db"
                log_dir = "logs"
                shutdown_timeout = "10s"
                snapshot_interval = "200ms"
                scan_interval = "200ms"

                [program.steady]
                command = ["/bin/sh", "-c", "while :; do sleep 1; done"]
                restart = "always"
                stop_timeout = "2s"

                [program.crasher]
                command = ["/bin/sh", "-c", "echo 'crasher: connecting'; echo 'crasher: lost connection to db' >&2; exit 3"]
                restart = "on-failure"
                restart_delay = "300ms"
                backoff_factor = 2
                max_backoff = "5s"
                max_restarts = 0

                [program.oneshot]
                command = ["/bin/sh", "-c", "exit 0"]
                restart = "on-failure"
                """)
            let db = HistoryDB(path: ws.path("history.db"))
            let histd = try ws.runHistd(config: config)

            // Crashes at about 0 s, 0.3 s and 0.9 s (delays 300 ms, then 600 ms).
            let ready = E2E.waitUntil(15) {
                db.instances("crasher", class: "crash") >= 3
                    && db.intOrZero("SELECT count(*) FROM sweeps") >= 2
                    && db.intOrZero("SELECT count(*) FROM scans") >= 1
                    && db.intOrZero("SELECT count(*) FROM snapshots_with_rates WHERE program = 'steady'") >= 2
            }
            #expect(ready, "histd did not record 3 crashes, 2 sweeps and a scan in 15 s:\n\(ws.log())")
            #expect(histd.stop() == 0, "histd did not shut down cleanly:\n\(ws.log())")

            // The supervisor run: opened and closed clean.
            let runs = try db.rows("SELECT id, pid, stopped_at, stop_reason, config_path FROM runs")
            try #require(runs.count == 1)
            let runID: Int64 = runs[0]["id"]
            #expect(runs[0]["pid"] as Int32? == histd.pid)
            #expect(runs[0]["stop_reason"] as String? == "clean")
            #expect(runs[0]["stopped_at"] as Int64? != nil)
            #expect(db.events("supervisor_start", run: runID) == 1)
            let stopDetail = try db.rows("SELECT detail FROM event_log WHERE kind = 'supervisor_stop'")
            #expect(stopDetail.count == 1)
            #expect((stopDetail.first?["detail"] as String?)?.contains("clean") == true)

            // Crashes: exit code 3, the stderr tail, uptime, in order.
            let crashes = try db.rows("""
                SELECT i.id, i.exit_code, i.signal, i.class, i.stderr_tail, i.uptime_ms, i.started_at, i.ended_at
                FROM instances i JOIN programs p ON p.id = i.program_id
                WHERE p.name = 'crasher' ORDER BY i.id
                """)
            #expect(crashes.count >= 3)
            for c in crashes.dropLast() {
                #expect(c["class"] as String? == "crash")
                #expect(c["exit_code"] as Int? == 3)
                #expect(c["signal"] as Int? == nil)
                #expect((c["stderr_tail"] as String?)?.contains("crasher: lost connection to db") == true)
                #expect((c["stderr_tail"] as String?)?.contains("connecting") == false, "stdout leaked into the stderr tail")
            }

            // restart_scheduled carries the delay in ms, growing by backoff_factor: 300, 600, 1200, ...
            let delays = try db.rows("""
                SELECT e.value, e.detail, e.instance_id FROM events e JOIN programs p ON p.id = e.program_id
                WHERE e.kind = (SELECT id FROM event_kinds WHERE name = 'restart_scheduled') AND p.name = 'crasher'
                ORDER BY e.id
                """)
            #expect(delays.count >= 2)
            let values = delays.map { $0["value"] as Int? ?? -1 }
            #expect(Array(values.prefix(3)) == Array([300, 600, 1200].prefix(values.count)))
            #expect((delays.first?["detail"] as String?)?.contains("\"attempt\":1") == true)
            #expect(delays.first?["instance_id"] as Int64? == crashes.first?["id"] as Int64?)
            // The next start came no earlier than the delay after the crash.
            if crashes.count >= 2, let end: Int64 = crashes[0]["ended_at"], let next: Int64 = crashes[1]["started_at"] {
                #expect(next - end >= 290, "restarted \(next - end) ms after the crash, before its 300 ms delay")
            }

            // The clean exit of oneshot is not a crash and is not restarted.
            #expect(db.instances("oneshot") == 1)
            #expect(db.instances("oneshot", class: "clean") == 1)
            // steady was stopped by the shutdown.
            #expect(db.instances("steady", class: "stopped") == 1)
            #expect(db.instances("steady", class: "crash") == 0)

            // Snapshots and scans belong to this run.
            #expect(try db.int("SELECT count(*) FROM snapshots_with_rates WHERE program = 'steady' AND rss_kb > 0") >= 2)
            #expect(try db.int("SELECT count(*) FROM scans WHERE run_id = ? AND total > 0", [runID]) >= 1)

            // histctl shows the same crashes.
            let r = try E2E.run(E2E.histctl, ["crashes", "--db", db.path, "--format", "json", "--since", "1h"])
            #expect(r.status == 0, "histctl crashes failed: \(r.stderr)")
            let json = try JSONSerialization.jsonObject(with: r.stdoutData) as? [[String: Any]]
            let rows = try #require(json)
            let crasherRows = rows.filter { $0["program"] as? String == "crasher" }
            #expect(crasherRows.count == crashes.filter { $0["class"] as String? == "crash" }.count)
            #expect(crasherRows.allSatisfy { $0["exit_code"] as? Int == 3 && $0["reason"] as? String == "crash" })
            #expect(crasherRows.allSatisfy { ($0["stderr_tail"] as? String)?.contains("lost connection to db") == true })
            let jsonDelays = Set(crasherRows.compactMap { $0["restart_delay_s"] as? Double })
            #expect(jsonDelays.contains(0.3) && jsonDelays.contains(0.6), "restart_delay_s: \(jsonDelays)")
            #expect(!rows.contains { $0["program"] as? String == "steady" || $0["program"] as? String == "oneshot" })
        }
    }
}
