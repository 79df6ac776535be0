import Foundation
import GRDB
import Testing

#if canImport(Glibc)
import Glibc
#endif

extension EndToEnd {
    /// Every control verb against a real histd and real processes, including on a pool and on one
    /// worker, with the exit codes of the README's table; then what the history says about it.
    @Suite struct ControlVerbs {
        static func config(_ ws: Workspace) -> String {
            ControlConfig.header(ws) + """
                [program.web]
                command = ["/bin/sleep", "300"]
                stop_timeout = "5s"

                [program.batch]
                command = ["/bin/sleep", "300"]
                restart_delay = "1s"
                backoff_factor = 2

                [pool.jobs]
                command = ["/bin/sleep", "300"]
                min_workers = 1
                max_workers = 3

                """
        }

        static func ctl(_ ws: Workspace, _ args: [String]) throws -> E2E.Output { try ControlConfig.histctl(ws, args) }

        /// "web: restarted, pid 4711 -> 4730" -> (4711, 4730).
        static func pids(_ line: String) -> (Int32, Int32)? {
            guard let r = line.range(of: #"pid (\d+) -> (\d+)"#, options: .regularExpression) else { return nil }
            let parts = line[r].split(separator: " ")
            guard parts.count == 4, let a = Int32(parts[1]), let b = Int32(parts[3]) else { return nil }
            return (a, b)
        }

        static func alive(_ pid: Int32) -> Bool { kill(pid, 0) == 0 && Procfs.info(pid)?.state != "Z" }

        @Test func everyVerbAnswersAndIsRecorded() throws {
            let ws = try Workspace("control")
            defer { ws.cleanup() }
            let config = try ws.write("h.toml", Self.config(ws))
            let histd = try ws.runHistd(config: config)
            let sock = ws.path("run/control.sock")
            #expect(E2E.waitUntil(20) { FileManager.default.fileExists(atPath: sock) }, "no socket: \(ws.log())")
            // Socket and folder modes.
            var st = stat()
            #expect(stat(sock, &st) == 0 && st.st_mode & 0o777 == 0o660)
            #expect(stat(ws.path("run"), &st) == 0 && st.st_mode & 0o777 == 0o750)

            var status = try Self.ctl(ws, ["status"])
            #expect(E2E.waitUntil(20) {
                status = (try? Self.ctl(ws, ["status"])) ?? status
                return status.stdout.split(separator: "\n").filter { $0.contains("running") }.count == 3
            }, "\(status.stdout)\(status.stderr)")
            #expect(status.status == 0 && status.stdout.hasPrefix("live from histd (pid \(histd.pid))"), "\(status.stdout)")
            #expect(status.stdout.contains("jobs.0"))

            // restart: answers once the new instance runs, old and new pid.
            var r = try Self.ctl(ws, ["restart", "web"])
            #expect(r.status == 0, "\(r.stderr)")
            let (old, new) = try #require(Self.pids(r.stdout), "\(r.stdout)")
            #expect(r.stdout.hasPrefix("web: restarted, pid "))
            #expect(old != new && Self.alive(new) && !Self.alive(old))

            // restart one pool worker, by the name the logs use.
            r = try Self.ctl(ws, ["restart", "jobs.0"])
            #expect(r.status == 0 && r.stdout.hasPrefix("jobs.0: restarted, pid "), "\(r.stdout)\(r.stderr)")

            // unknown program: 64, did you mean.
            r = try Self.ctl(ws, ["restart", "wbe"])
            #expect(r.status == 64 && r.stderr.contains("no such program \"wbe\" (did you mean \"web\"?)"), "\(r.stderr)")

            // stop, already stopped, start.
            r = try Self.ctl(ws, ["stop", "web"])
            #expect(r.status == 0 && r.stdout.contains("web: stopped (was pid \(new))") && !Self.alive(new), "\(r.stdout)\(r.stderr)")
            r = try Self.ctl(ws, ["stop", "web"])
            #expect(r.status == 0 && r.stdout.contains("already stopped"), "\(r.stdout)")
            r = try Self.ctl(ws, ["start", "web"])
            #expect(r.status == 0 && r.stdout.hasPrefix("web: started, pid "), "\(r.stdout)")
            r = try Self.ctl(ws, ["start", "web"])
            #expect(r.status == 0 && r.stdout.contains("already running"), "\(r.stdout)")

            // scale a pool, within and outside min/max.
            r = try Self.ctl(ws, ["scale", "jobs", "3"])
            #expect(r.status == 0 && r.stdout.split(separator: "\n").count == 3, "\(r.stdout)\(r.stderr)")
            r = try Self.ctl(ws, ["scale", "jobs", "9"])
            #expect(r.status == 64 && r.stderr.contains("outside min_workers 1 ... max_workers 3"), "\(r.stderr)")
            r = try Self.ctl(ws, ["stop", "jobs"])
            #expect(r.status == 0 && r.stdout.split(separator: "\n").count == 3, "\(r.stdout)")
            r = try Self.ctl(ws, ["start", "jobs"])
            #expect(r.status == 0, "\(r.stderr)")

            // signal: KILL needs --force (usage); HUP to one worker ends it (sleep dies of HUP).
            r = try Self.ctl(ws, ["signal", "KILL", "web"])
            #expect(r.status == 64, "\(r.stderr)")
            r = try Self.ctl(ws, ["signal", "HUP", "jobs.1"])
            #expect(r.status == 0 && r.stdout.contains("jobs.1: sent HUP to pid "), "\(r.stdout)\(r.stderr)")

            // reload goes through ConfigReloader: a dry run of the unchanged file plans nothing and changes nothing.
            r = try Self.ctl(ws, ["reload", "--dry-run"])
            #expect(r.status == 0 && (r.stdout + r.stderr).contains("dry run, nothing changed"), "\(r.stdout)\(r.stderr)")

            // --no-wait returns at once.
            r = try Self.ctl(ws, ["restart", "--no-wait", "web"])
            #expect(r.status == 0 && r.stdout.contains("web: restarting"), "\(r.stdout)")

            // A crash by hand is still a crash: kill -9 batch's process.
            let live = try Self.ctl(ws, ["status", "batch"])
            let batchPID = try #require(live.stdout.split(separator: "\n").last.flatMap { line in
                line.split(separator: " ", omittingEmptySubsequences: true).dropFirst(2).first.flatMap { Int32($0) }
            }, "\(live.stdout)")
            kill(batchPID, SIGKILL)
            let db = HistoryDB(path: ws.path("h.db"))
            #expect(E2E.waitUntil(20) { db.intOrZero("SELECT count(*) FROM instances WHERE class = 'crash' AND pid = ?", [batchPID]) == 1 })

            // Shut down cleanly, then read the record.
            #expect(histd.stop() == 0, "\(ws.log())")
            #expect(!FileManager.default.fileExists(atPath: sock), "socket left behind")

            let actions = try db.rows("SELECT action, programs, result, uid, user, pid, comm, effects FROM operator_actions ORDER BY id")
            let summary = actions.map { "\($0["action"] as String) \($0["programs"] as String) \($0["result"] as String)" }
            #expect(summary.contains("restart [\"web\"] done"))
            #expect(summary.contains("restart [\"jobs.0\"] done"))
            #expect(summary.contains("restart [\"wbe\"] no_such_unit"))
            #expect(summary.contains("scale [\"jobs\"] invalid"))
            #expect(summary.contains("signal [\"jobs.1\"] done"))
            #expect(summary.contains("reload [] done"))
            #expect(actions.allSatisfy { ($0["uid"] as Int) == Int(getuid()) && ($0["comm"] as String) == "histctl" })
            #expect((actions.first?["effects"] as Int?) == 3)  // the restart: stopped + ended old, started new

            // crashes: the hand kill only; the operator's HUP, stops and restarts are not crashes.
            let crashes = try E2E.run(E2E.histctl, ["crashes", "--db", ws.path("h.db"), "--format", "csv"])
            let rows = crashes.stdout.split(whereSeparator: \.isNewline).dropFirst()
            #expect(rows.count == 1 && rows.first?.contains(",batch,\(batchPID),") == true, "\(crashes.stdout)\(crashes.stderr)")
            // The record keeps the HUP death as a signal death (the fact), classified stopped (the operator's
            // doing, not a crash: the lifecycle's exitedOnOperatorSignal), linked to the action.
            #expect(try db.int("""
                SELECT count(*) FROM instances i JOIN operator_effects f ON f.instance_id = i.id AND f.effect = 'ended'
                WHERE i.class = 'stopped' AND i.signal = 1
                """) == 1)
            #expect(try db.int("SELECT count(*) FROM instances WHERE class = 'crash' AND signal = 1") == 0)
            let status1h = try E2E.run(E2E.histctl, ["status", "--record", "--db", ws.path("h.db"), "--format", "csv"])
            let jobs = status1h.stdout.split(whereSeparator: \.isNewline).first { $0.hasPrefix("jobs,") }
            #expect(jobs?.split(separator: ",", omittingEmptySubsequences: false)[6] == "0", "\(status1h.stdout)\(status1h.stderr)")
        }
    }
}
