import Foundation
import GRDB
import Testing

#if canImport(Glibc)
import Glibc
#endif

extension EndToEnd {
    /// histd itself dies (kill -9) at random moments, during a 30-worker pool start and beside
    /// escapers (setsid, double fork, a subreaper's grandchildren); the next histd must stop
    /// everything the dead ones started, before it starts anything itself.
    @Suite struct Recovery {
        /// 50 by default; HISTD_KILL9_ITERATIONS overrides it (e.g. 200 for a soak run).
        static let iterations = ProcessInfo.processInfo.environment["HISTD_KILL9_ITERATIONS"].flatMap(Int.init) ?? 50

        /// Live processes whose HISTD_RUN marker names one of `owners` (histd pids).
        static func markedBy(_ owners: Set<Int32>) -> [Int32] {
            Procfs.allPIDs().filter { pid in
                guard let data = Procfs.read("/proc/\(pid)/environ"), let info = Procfs.info(pid), info.state != "Z" else { return false }
                for entry in data.split(separator: 0) {
                    let s = String(decoding: entry, as: UTF8.self)
                    guard s.hasPrefix("HISTD_RUN=") else { continue }
                    let parts = s.split(separator: ":")
                    if parts.count >= 4, let owner = Int32(parts[parts.count - 3]) { return owners.contains(owner) }
                }
                return false
            }
        }

        static func config(_ ws: Workspace, cgroup: Bool = false) throws -> String {
            let sub = try ws.write("subreaper.py", """
                import ctypes, os, time
                ctypes.CDLL(None).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
                if os.fork() == 0:
                    if os.fork() == 0:
                        os.setsid()
                        time.sleep(1000)
                    os._exit(0)
                time.sleep(1000)
                """)
            let escaper = try ws.write("escaper.sh", """
                #!/bin/sh
                setsid sleep 1000 &
                ( sleep 1000 & ) &
                \(E2E.hasPython ? "python3 \(sub) &" : "")
                exec sleep 1000
                """, executable: true)
            return try ws.write("r.toml", """
                [supervisor]
                db = "h.db"
                log_dir = "logs"
                snapshot_interval = "off"
                scan_interval = "off"
                shutdown_timeout = "20s"

                [program.escaper]
                command = ["\(escaper)"]
                \(cgroup ? "cgroup = {}" : "")

                [pool.workers]
                command = ["/bin/sleep", "1000"]
                min_workers = 30
                max_workers = 30
                """)
        }

        @Test func killNineOfHistdLeavesNoSurvivor() throws {
            let ws = try Workspace("recovery")
            defer { ws.cleanup() }
            let config = try Self.config(ws)
            let db = HistoryDB(path: ws.path("h.db"))
            var dead: Set<Int32> = []
            var survivors: [String] = []
            var killedDuringPoolStart = 0
            for i in 0...Self.iterations {
                let log = "histd-\(i).log"
                let histd = try ws.runHistd(config: config, logName: log)
                // Recovery runs before the engine starts anything: once it says "supervising", every
                // process of every dead histd must be gone.
                try #require(E2E.waitUntil(30, poll: 0.005) { ws.log(log).contains("supervising") }, "\(ws.log(log))")
                let left = Self.markedBy(dead)
                if !left.isEmpty {
                    survivors.append("iteration \(i): \(left.map { Procfs.info($0).map { "\($0.comm)[\($0.pid)]" } ?? "\($0)" })")
                }
                if i == Self.iterations {
                    #expect(E2E.waitUntil(30) { ws.markedProcesses().count >= 31 })
                    #expect(histd.stop(timeout: 60) == 0, "\(ws.log(log))")
                    break
                }
                // A random moment: every other one within 10 ms of "supervising", which on a quick box is
                // still inside the 30-worker pool start (a 0-400 ms draw alone missed it 50 times out of
                // 50 on a quiet CI box); the others anywhere in the first 400 ms.
                Thread.sleep(forTimeInterval: Double(Int.random(in: 0...(i % 2 == 0 ? 10 : 400))) / 1000)
                if ws.log(log).components(separatedBy: "workers.").count - 1 < 30 { killedDuringPoolStart += 1 }
                histd.kill9()
                dead.insert(histd.pid)
            }
            #expect(survivors.isEmpty, "processes of dead histds outlived the next start: \(survivors)")
            // After the last, clean shutdown nothing any histd started is left.
            let rest = ws.markedProcesses()
            #expect(rest.isEmpty, "left after the clean shutdown: \(rest.map { "\($0.comm)[\($0.pid)]" })")
            // Escapers were found by their marker, and every leftover says what was done to it.
            #expect(db.intOrZero("SELECT count(*) FROM events WHERE kind = 16 AND detail LIKE '%\"source\":\"marker\"%'") > 0)
            #expect(db.intOrZero("SELECT count(*) FROM events WHERE kind = 16 AND detail NOT LIKE '%\"action\":\"stopped\"%'") == 0)
            #expect(killedDuringPoolStart > 0, "no kill fell inside a pool start")
            print("recovery: \(Self.iterations) kill -9s, \(killedDuringPoolStart) during the pool start, \(db.events("leftover")) leftovers recorded")
        }

        /// The next histd starts while another process holds the database's write lock. Its run cannot be
        /// recorded yet, and it does not wait for that (the engine's events queue behind the run); it still
        /// reads the dead run's open instance rows (reads go on under a write lock) and stops that process
        /// as an `instance_row` leftover, not only as a marker find, and starts its own program, all while
        /// the lock is held. Once the lock goes, the run, the closed run and the leftover are recorded.
        @Test func aLockedDatabaseAtStartStillStopsTheDeadRunsInstances() throws {
            let ws = try Workspace("recovery-locked")
            defer { ws.cleanup() }
            let config = try ws.write("l.toml", """
                [supervisor]
                db = "h.db"
                log_dir = "logs"
                snapshot_interval = "off"
                scan_interval = "off"

                [program.sleeper]
                command = ["/bin/sleep", "1000"]
                """)
            let db = HistoryDB(path: ws.path("h.db"))
            let first = try ws.runHistd(config: config, logName: "first.log")
            try #require(E2E.waitUntil(30) { db.intOrZero("SELECT count(*) FROM instances WHERE ended_at IS NULL") == 1 },
                         "\(ws.log("first.log"))")
            let left = Int32(db.intOrZero("SELECT pid FROM instances WHERE ended_at IS NULL"))
            first.kill9()
            func alive(_ pid: Int32) -> Bool { Procfs.info(pid).map { $0.state != "Z" } ?? false }
            try #require(alive(left), "the dead histd's sleeper should outlive it")
            let locker = try DatabaseQueue(path: ws.path("h.db"))
            defer { try? locker.close() }
            var second: HistdProcess?
            try locker.inDatabase { conn in
                try conn.execute(sql: "BEGIN IMMEDIATE")
                defer { try? conn.execute(sql: "COMMIT") }
                let h = try ws.runHistd(config: config, logName: "second.log")
                second = h
                // All of it under the lock: the old sleeper stopped, a new one started by this histd.
                #expect(E2E.waitUntil(30) { !alive(left) }, "\(ws.log("second.log"))")
                #expect(E2E.waitUntil(30) { !Self.markedBy([h.pid]).isEmpty }, "\(ws.log("second.log"))")
                #expect(db.events("leftover") == 0, "nothing can be recorded while the lock is held")
            }
            let h = try #require(second)
            try #require(E2E.waitUntil(30) { db.events("leftover") == 1 }, "\(ws.log("second.log"))")
            let detail: String? = try db.rows("SELECT detail FROM events WHERE kind = 16").first?["detail"]
            #expect(detail?.contains("\"source\":\"instance_row\"") == true, "\(detail ?? "nil") \(ws.log("second.log"))")
            #expect(detail?.contains("\"action\":\"stopped\"") == true, "\(detail ?? "nil")")
            try #require(E2E.waitUntil(30) { ws.log("second.log").contains("recording to") }, "\(ws.log("second.log"))")
            #expect(db.intOrZero("SELECT count(*) FROM runs WHERE stop_reason = 'unclean'") == 1)
            #expect(db.intOrZero("SELECT count(*) FROM runs WHERE stopped_at IS NULL AND pid = ?", [h.pid]) == 1)
            // The second run's supervisor_start comes before anything else of that run.
            let firstOfRun = db.intOrZero("""
                SELECT kind FROM events WHERE run_id = (SELECT id FROM runs WHERE pid = ?) ORDER BY id LIMIT 1
                """, [h.pid])
            #expect(firstOfRun == 13, "the run's first event is supervisor_start (kind 13), not kind \(firstOfRun)")
            #expect(h.stop() == 0, "\(ws.log("second.log"))")
        }

        static let cgroupsUsable: Bool = E2E.isRoot && FileManager.default.fileExists(atPath: "/sys/fs/cgroup/pids")

        /// The dead histd's cgroups: their processes are stopped and the groups removed.
        @Test(.enabled(if: cgroupsUsable, "needs root and the cgroup v1 pids hierarchy"))
        func staleCgroupsOfADeadHistdAreRemoved() throws {
            let ws = try Workspace("stalecg")
            defer { ws.cleanup() }
            let config = try Self.config(ws, cgroup: true)
            let first = try ws.runHistd(config: config, logName: "a.log")
            try #require(E2E.waitUntil(30) { ws.log("a.log").contains("escaper[") && ws.markedProcesses().count >= 33 }, "\(ws.log("a.log"))")
            let own = (try? String(contentsOfFile: "/proc/self/cgroup", encoding: .utf8))?
                .split(separator: "\n").first { $0.contains(":pids:") }.map { String($0.split(separator: ":", maxSplits: 2)[2]) } ?? "/"
            let group = "/sys/fs/cgroup/pids" + (own == "/" ? "" : own) + "/histd-\(first.pid)"
            #expect(FileManager.default.fileExists(atPath: group), "no cgroup \(group)")
            first.kill9()
            let second = try ws.runHistd(config: config, logName: "b.log")
            try #require(E2E.waitUntil(30) { ws.log("b.log").contains("supervising") }, "\(ws.log("b.log"))")
            #expect(!FileManager.default.fileExists(atPath: group), "the dead histd's cgroup \(group) is still there: \(ws.log("b.log"))")
            #expect(Self.markedBy([first.pid]).isEmpty)
            #expect(second.stop(timeout: 60) == 0)
        }
    }
}
