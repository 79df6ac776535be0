import Foundation
import GRDB
import Testing

#if canImport(Glibc)
import Glibc
#endif

extension EndToEnd {
    /// kill -9 histd at random moments while 20 programs crash and restart, 20 times on one database.
    @Suite struct KillNine {
        static let iterations = 20
        /// Program i sleeps 50 ms + i * 100 ms and exits 1: a mix of fast and slow crash loops.
        static func sleepMS(_ i: Int) -> Int { 50 + i * 100 }

        struct Open: Hashable { var instance: Int64; var program: String; var pid: Int32; var ticks: UInt64; var startedAt: Int64 }

        @Test func killNineAtRandomMomentsLosesNothingAndLeavesNothingRunningTwice() throws {
            let ws = try Workspace("kill9")
            defer { ws.cleanup() }
            var programs = """
                [supervisor]
                db = "h.db"
                log_dir = "logs"
                snapshot_interval = "200ms"
                scan_interval = "off"
                shutdown_timeout = "10s"

                """
            for i in 0..<20 {
                let s = Self.sleepMS(i)
                programs += """

                    [program.p\(String(format: "%02d", i))]
                    command = ["/bin/sh", "-c", "sleep \(s / 1000).\(String(format: "%03d", s % 1000)); exit 1"]
                    restart = "on-failure"
                    restart_delay = "20ms"
                    backoff_factor = 1
                    max_restarts = 0
                    stop_timeout = "2s"

                    """
            }
            let config = try ws.write("kill9.toml", programs)
            let db = HistoryDB(path: ws.path("h.db"))

            var previousRun: Int64?
            var leftAlive: [Open] = []         // recorded open instances alive right after the kill
            var aliveAtKill: [ProcInfo] = []   // every marked process alive right after the kill
            var killDelays: [Int] = []
            var readyMS: [Int] = []
            var scanMS: [Int] = []
            var killMS: [Int] = []
            var adopters: Set<Int32> = []      // who the dead histd's children were re-parented to
            var integrityMS: [Int] = []            // histd start -> its run's first start event in the database
            var totalLeftovers = 0
            var unrecordedSurvivors = 0
            let t0 = Date()

            for iteration in 0...Self.iterations {
                let tStart = Date()
                let histd = try ws.runHistd(config: config, logName: "histd-\(iteration).log")
                // Wait until this run is recorded and has started a program: leftovers are handled before that.
                var runID: Int64 = 0
                let started = E2E.waitUntil(10, poll: 0.01) {
                    runID = Int64(db.intOrZero("SELECT id FROM runs WHERE pid = ? ORDER BY id DESC LIMIT 1", [histd.pid]))
                    return runID > 0 && db.events("start", run: runID) >= 1
                }
                readyMS.append(Int(Date().timeIntervalSince(tStart) * 1000))
                try #require(started, "iteration \(iteration): histd did not start:\n\(ws.log("histd-\(iteration).log"))")

                if let prev = previousRun {
                    // The dead run is closed as unclean, with a supervisor_stop event saying so.
                    let r = try db.rows("SELECT stop_reason, stopped_at FROM runs WHERE id = ?", [prev])
                    #expect(r.first?["stop_reason"] as String? == "unclean", "iteration \(iteration): run \(prev) \(r)")
                    #expect(r.first?["stopped_at"] as Int64? != nil)
                    #expect(try db.int("""
                        SELECT count(*) FROM events WHERE run_id = ? AND kind = (SELECT id FROM event_kinds WHERE name = 'supervisor_stop')
                          AND detail LIKE '%unclean%'
                        """, [prev]) == 1, "iteration \(iteration): no unclean supervisor_stop for run \(prev)")
                    // What the dead histd left running is gone: nothing runs unsupervised next to the new one.
                    let killedAt = E2E.nowMS()
                    for o in leftAlive {
                        #expect(!Procfs.isAlive(pid: o.pid, startTicks: o.ticks),
                                "iteration \(iteration): \(o.program)[\(o.pid)] of run \(prev) still runs beside the new histd")
                    }
                    let leftovers = try db.rows("""
                        SELECT value, detail FROM events WHERE run_id = ? AND kind = (SELECT id FROM event_kinds WHERE name = 'leftover')
                        """, [runID])
                    totalLeftovers += leftovers.count
                    let notStopped = leftovers.filter { ($0["detail"] as String?)?.contains("\"stopped\"") != true }
                    #expect(notStopped.isEmpty, "iteration \(iteration): leftovers not recorded as stopped: \(notStopped)")
                    let stoppedPIDs = Set(leftovers.filter { ($0["detail"] as String?)?.contains("\"stopped\"") == true }
                        .compactMap { $0["value"] as Int32? })
                    for o in leftAlive {
                        // A leftover with more than 500 ms of sleep left cannot have exited by itself before histd saw it.
                        let remaining = Int64(Self.sleepMS(Int(o.program.dropFirst())!)) - (killedAt - o.startedAt)
                        if remaining > 500 {
                            #expect(stoppedPIDs.contains(o.pid), "iteration \(iteration): no leftover event for \(o.program)[\(o.pid)]")
                        }
                    }
                    // Anything else alive at the kill that survived: processes whose start was never committed.
                    let leaders = Set(leftAlive.map(\.pid))
                    for p in aliveAtKill where Procfs.isAlive(pid: p.pid, startTicks: p.startTicks) {
                        #expect(!leaders.contains(p.pgid), "iteration \(iteration): \(p.comm)[\(p.pid)] in a recorded group survived")
                        unrecordedSurvivors += 1
                    }
                }
                if iteration == Self.iterations { 
                    // The last start shuts down cleanly.
                    Thread.sleep(forTimeInterval: 2.2)
                    #expect(histd.stop() == 0, "\(ws.log("histd-\(iteration).log"))")
                    let r = try db.rows("SELECT stop_reason FROM runs WHERE id = ?", [runID])
                    #expect(r.first?["stop_reason"] as String? == "clean")
                    break
                }

                let delay = Int.random(in: 100...650)
                killDelays.append(delay)
                Thread.sleep(forTimeInterval: Double(delay) / 1000)
                let tK = Date()
                histd.kill9()
                killMS.append(Int(Date().timeIntervalSince(tK) * 1000))
                let tKill = Date()
                aliveAtKill = ws.markedProcesses()
                let killedPIDs = Set(aliveAtKill.map(\.pid))
                adopters.formUnion(aliveAtKill.map(\.ppid).filter { !killedPIDs.contains($0) })
                scanMS.append(Int(Date().timeIntervalSince(tKill) * 1000))

                let tI = Date()
                #expect(try db.integrityCheck() == ["ok"], "iteration \(iteration): integrity_check failed after kill -9")
                integrityMS.append(Int(Date().timeIntervalSince(tI) * 1000))
                let open = try db.rows("""
                    SELECT i.id, p.name, i.pid, i.start_ticks, i.started_at FROM instances i JOIN programs p ON p.id = i.program_id
                    WHERE i.run_id = ? AND i.ended_at IS NULL
                    """, [runID])
                leftAlive = open.map { Open(instance: $0[0], program: $0[1], pid: $0[2], ticks: $0[3], startedAt: $0[4]) }
                    .filter { Procfs.isAlive(pid: $0.pid, startTicks: $0.ticks) }
                previousRun = runID
            }

            // After the final clean shutdown, nothing from any iteration is alive.
            let left = ws.markedProcesses()
            #expect(left.isEmpty, "alive after the final shutdown: \(left)")
            #expect(try db.integrityCheck() == ["ok"])
            let runs = try db.rows("SELECT stop_reason, count(*) AS n FROM runs GROUP BY stop_reason")
            let byReason = Dictionary(uniqueKeysWithValues: runs.map { ($0["stop_reason"] as String? ?? "open", $0["n"] as Int) })
            #expect(byReason == ["unclean": Self.iterations, "clean": 1])
            #expect(totalLeftovers > 0, "no leftover was ever reported")
            // Every instance of a dead run either ended (recorded) or stays without an end; none is claimed by two runs.
            #expect(try db.int("SELECT count(*) FROM instances i JOIN runs r ON r.id = i.run_id WHERE r.stop_reason = 'clean' AND i.ended_at IS NULL") == 0)
            let crashes = db.events("crash")
            print("""
                kill -9: \(Self.iterations) kills after \(killDelays) ms in \(String(format: "%.1f", Date().timeIntervalSince(t0))) s; \
                \(crashes) crashes recorded; \(totalLeftovers) leftover events; \
                ready after \(readyMS) ms; /proc scans \(scanMS) ms; kill \(killMS) ms; integrity \(integrityMS) ms; re-parented to \(adopters.sorted()) (test pid \(getpid())); \(unrecordedSurvivors) process(es) alive at a kill survived the next start (not recorded as instances)
                """)
        }
    }
}
