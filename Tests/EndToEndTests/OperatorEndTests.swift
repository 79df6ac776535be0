import Foundation
import GRDB
import Testing

#if canImport(Glibc)
import Glibc
#endif

extension EndToEnd {
    /// What an operator's action does to the restart accounting, against a real histd: a process the
    /// operator ended with `histctl signal` is not a crash, goes through no backoff and does not count
    /// toward `max_restarts`; the workers `histctl scale` starts and stops are linked to the action.
    @Suite struct OperatorEnds {
        static func config(_ ws: Workspace) -> String {
            ControlConfig.header(ws) + """
                [program.fragile]
                command = ["/bin/sleep", "300"]
                restart_delay = "30s"
                max_restarts = 1

                [pool.jobs]
                command = ["/bin/sleep", "300"]
                min_workers = 1
                max_workers = 3

                """
        }

        static func ctl(_ ws: Workspace, _ args: [String]) throws -> E2E.Output { try ControlConfig.histctl(ws, args) }

        /// The live pid of `name` from `histctl status NAME` (third column), nil unless it runs.
        static func livePID(_ ws: Workspace, _ name: String) -> Int32? {
            guard let out = try? ctl(ws, ["status", name]).stdout else { return nil }
            for line in out.split(separator: "\n") {
                let cols = line.split(separator: " ", omittingEmptySubsequences: true)
                if cols.count > 2, cols[0] == name, cols[1] == "running", let pid = Int32(cols[2]) { return pid }
            }
            return nil
        }

        @Test func operatorSignalsAreNotCrashesAndScaleIsLinked() throws {
            let ws = try Workspace("operator-ends")
            defer { ws.cleanup() }
            let config = try ws.write("h.toml", Self.config(ws))
            let histd = try ws.runHistd(config: config)
            #expect(E2E.waitUntil(20) { Self.livePID(ws, "fragile") != nil && Self.livePID(ws, "jobs.0") != nil }, "\(ws.log())")

            // Three KILLs through histctl: each is replaced at once (restart_delay is 30 s, so a backoff
            // would show), and max_restarts = 1 would have given up after the second crash.
            var pids: [Int32] = []
            for _ in 0..<3 {
                let before = try #require(Self.livePID(ws, "fragile"), "\(ws.log())")
                let r = try Self.ctl(ws, ["signal", "--force", "KILL", "fragile"])
                #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
                var after: Int32?
                #expect(E2E.waitUntil(10) {
                    after = Self.livePID(ws, "fragile")
                    return after != nil && after != before
                }, "not replaced at once: \(ws.log())")
                pids.append(before)
            }
            let status = try Self.ctl(ws, ["status", "fragile"])
            let line = status.stdout.split(separator: "\n").first { $0.hasPrefix("fragile ") }
            #expect(line?.contains(" running ") == true && line?.split(separator: " ").last == "0", "restarts counted: \(status.stdout)")

            // A kill by hand (not through histd) is still a crash, and goes through the 30 s backoff.
            let handKilled = try #require(Self.livePID(ws, "fragile"))
            kill(handKilled, SIGKILL)
            let db = HistoryDB(path: ws.path("h.db"))
            #expect(E2E.waitUntil(20) { db.intOrZero("SELECT count(*) FROM instances WHERE class = 'crash' AND pid = ?", [handKilled]) == 1 })

            // scale up 1 -> 3, then down 3 -> 1: the workers started and stopped are the action's.
            var r = try Self.ctl(ws, ["scale", "jobs", "3"])
            #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
            r = try Self.ctl(ws, ["scale", "jobs", "1"])
            #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
            #expect(E2E.waitUntil(20) { Self.livePID(ws, "jobs.1") == nil && Self.livePID(ws, "jobs.2") == nil })

            #expect(histd.stop() == 0, "\(ws.log())")

            // The operator's KILLs: class killed, linked as ended, no restart_scheduled after them.
            for pid in pids {
                let rows = try db.rows("SELECT id, class, signal FROM instances WHERE pid = ?", [pid])
                #expect(rows.count == 1 && (rows.first?["class"] as String?) == "killed" && (rows.first?["signal"] as Int?) == 9,
                        "\(rows)")
                if let id = rows.first?["id"] as Int64? {
                    #expect(try db.int("SELECT count(*) FROM operator_effects WHERE instance_id = ? AND effect = 'ended'", [id]) == 1)
                    #expect(try db.int("SELECT count(*) FROM events WHERE kind = 4 AND instance_id = ?", [id]) == 0,
                            "a restart_scheduled (backoff) followed the operator's kill")
                }
            }
            #expect(try db.int("SELECT count(*) FROM events e JOIN programs p ON p.id = e.program_id WHERE e.kind = 5 AND p.name = 'fragile'") == 0,
                    "gave_up recorded")
            // The hand kill is the only crash; its restart is attempt 1 (the KILLs did not count).
            let crashes = try E2E.run(E2E.histctl, ["crashes", "--db", ws.path("h.db"), "--format", "csv"])
            let rows = crashes.stdout.split(whereSeparator: \.isNewline).dropFirst()
            #expect(rows.count == 1 && rows.first?.contains(",fragile,\(handKilled),") == true, "\(crashes.stdout)\(crashes.stderr)")
            let attempt = try db.rows("""
                SELECT json_extract(e.detail, '$.attempt') AS attempt FROM events e JOIN instances i ON i.id = e.instance_id
                WHERE e.kind = 4 AND i.pid = ?
                """, [handKilled])
            #expect(attempt.map { $0["attempt"] as Int? } == [1], "\(attempt)")

            // Scale: up started two workers, down stopped and ended two.
            let scales = try db.rows("SELECT seq, effects FROM operator_actions WHERE action = 'scale' AND result = 'done' ORDER BY id")
            #expect(scales.map { $0["effects"] as Int } == [2, 4], "\(scales)")
            if scales.count == 2 {
                let up = scales[0]["seq"] as Int, down = scales[1]["seq"] as Int
                #expect(try db.int("SELECT count(*) FROM operator_effects WHERE action_seq = ? AND effect = 'started'", [up]) == 2)
                #expect(try db.int("SELECT count(*) FROM operator_effects WHERE action_seq = ? AND effect = 'stopped'", [down]) == 2)
                #expect(try db.int("SELECT count(*) FROM operator_effects WHERE action_seq = ? AND effect = 'ended'", [down]) == 2)
            }
        }
    }
}
