import Foundation
import GRDB
import Testing

#if canImport(Glibc)
import Glibc
#endif

extension EndToEnd {
    /// Children that make a supervisor's life hard, all in one histd, while a crasher elsewhere must
    /// still be restarted at once.
    @Suite struct HostileChildren {
        static let floodBytes = 100 << 20
        static let logMax = 1 << 20
        static let logKeep = 3
        /// histd reads a child's output 64 KiB at a time (Engine.readBuffer).
        static let readChunk = 64 << 10

        @Test func hostileChildrenDoNotSlowRestartsBreakRotationOrOutliveShutdown() throws {
            let ws = try Workspace("hostile")
            defer { ws.cleanup() }
            let done = ws.path("flood-done")
            let config = try ws.write("hostile.toml", """
                [supervisor]
                db = "h.db"
                log_dir = "logs"
                snapshot_interval = "500ms"
                scan_interval = "1s"
                shutdown_timeout = "20s"

                [program.ignores_term]
                command = ["/bin/sh", "-c", "trap '' TERM; while :; do sleep 1; done"]
                stop_timeout = "1s"

                [program.double_fork]
                command = ["/bin/sh", "-c", "( exec sleep 300 & ) ; exit 0"]
                restart = "on-failure"
                # Its orphan must outlive it for the orphan scan (kill_mode = "tree" would stop it at the exit).
                kill_mode = "process"

                [program.forker]
                command = ["/bin/sh", "-c", "i=0; while [ $i -lt 1000 ]; do sleep 300 & i=$((i+1)); done; echo forked >&2; wait"]
                stop_timeout = "3s"

                [program.closer]
                command = ["/bin/sh", "-c", "exec >&- 2>&-; exec sleep 300"]

                [program.flooder]
                command = ["/bin/sh", "-c", "yes 0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz | head -c \(Self.floodBytes) >&2; touch \(done); exec sleep 300"]
                log_max_size = "\(Self.logMax)"
                log_keep = \(Self.logKeep)

                [program.crasher]
                command = ["/bin/false"]
                restart = "always"
                restart_delay = "0s"
                backoff_factor = 1
                max_restarts = 0
                """)
            let db = HistoryDB(path: ws.path("h.db"))
            let histd = try ws.runHistd(config: config)

            let flooded = E2E.waitUntil(60, poll: 0.05) { access(done, F_OK) == 0 }
            #expect(flooded, "the flood did not finish in 60 s:\n\(ws.log())")
            var st = stat()
            stat(done, &st)
            let floodEnd = Int64(st.st_mtim.tv_sec) * 1000 + Int64(st.st_mtim.tv_nsec) / 1_000_000
            // All 1,000 children forked, and the crasher keeps going afterwards too.
            let forked = E2E.waitUntil(30) { Procfs.children(of: Self.forkerPID(db) ?? -1).count >= 1000 }
            #expect(forked, "forker did not get its 1,000 children")
            Thread.sleep(forTimeInterval: 0.5)
            let histdRSS = Procfs.rssKB(histd.pid)

            let status = histd.stop(timeout: 40)
            #expect(status == 0, "histd did not shut down cleanly:\n\(ws.log())")
            let left = ws.markedProcesses()
            #expect(left.isEmpty, "\(left.count) process(es) survived the shutdown, e.g. \(left.prefix(5))")

            // Restart latency of the crasher during the flood.
            let floodStart = try #require(try db.read {
                try Int64.fetchOne($0, sql: "SELECT min(i.started_at) FROM instances i JOIN programs p ON p.id = i.program_id WHERE p.name = 'flooder'")
            })
            let crasher = try db.rows("""
                SELECT i.started_at, i.ended_at FROM instances i JOIN programs p ON p.id = i.program_id
                WHERE p.name = 'crasher' ORDER BY i.id
                """)
            var gaps: [Int64] = []
            var afterGaps: [Int64] = []
            var allGaps: [Int64] = []
            for (a, b) in zip(crasher, crasher.dropFirst()) {
                guard let end = a["ended_at"] as Int64?, let next = b["started_at"] as Int64? else { continue }
                allGaps.append(next - end)
                if end >= floodStart && next <= floodEnd { gaps.append(next - end) }
                if end > floodEnd { afterGaps.append(next - end) }
            }
            gaps.sort()
            afterGaps.sort()
            allGaps.sort()
            func pct(_ v: [Int64], _ p: Double) -> Int64 { v.isEmpty ? -1 : v[min(v.count - 1, Int(Double(v.count) * p))] }
            print("""
                hostile: flood of \(Self.floodBytes >> 20) MiB took \(floodEnd - floodStart) ms; \(gaps.count) crasher restarts during it: \
                gap p50 \(pct(gaps, 0.5)) ms, p99 \(pct(gaps, 0.99)) ms, max \(gaps.last ?? -1) ms; \(afterGaps.count) after it: \
                p50 \(pct(afterGaps, 0.5)) ms; whole run \(allGaps.count) restarts: \
                p50 \(pct(allGaps, 0.5)) ms, p99 \(pct(allGaps, 0.99)) ms; histd RSS \(histdRSS) KiB
                """)
            // The flood must not slow restarts. The yardstick is the same crasher in the same run once
            // the flood is over (same box, same load), not a wall-clock figure: output is read 64 KiB
            // per wakeup, so a flooding pipe delays a restart by at most a few reads. The 2 ms slack
            // covers the millisecond timestamps (medians of 0 and 1 ms).
            #expect(gaps.count >= 5, "too few crasher restarts during the flood to judge: \(gaps.count)")
            #expect(afterGaps.count >= 5, "too few crasher restarts after the flood to judge: \(afterGaps.count)")
            #expect(pct(gaps, 0.5) <= 2 * pct(afterGaps, 0.5) + 2,
                    "median restart gap during the flood \(pct(gaps, 0.5)) ms, after it \(pct(afterGaps, 0.5)) ms")
            #expect(db.instances("crasher", class: "crash") >= gaps.count)

            // Log rotation held under the flood.
            let logs = try FileManager.default.contentsOfDirectory(atPath: ws.path("logs"))
            let errFiles = logs.filter { $0 == "flooder.err" || $0.hasPrefix("flooder.err.") }
            #expect(errFiles.count <= Self.logKeep + 1, "\(errFiles)")
            #expect(errFiles.count >= 2, "no rotation happened: \(errFiles)")
            var total = 0
            for f in errFiles {
                let size = (try FileManager.default.attributesOfItem(atPath: ws.path("logs/\(f)"))[.size] as? Int) ?? -1
                total += size
                #expect(size <= Self.logMax + Self.readChunk, "\(f) is \(size) bytes")
            }
            #expect(total >= Self.logMax, "rotated logs hold only \(total) bytes")

            // The hostile ones were recorded as what they are.
            let termClasses = try db.rows("SELECT class FROM instances i JOIN programs p ON p.id = i.program_id WHERE p.name = 'ignores_term'")
            #expect(db.instances("ignores_term", class: "killed") == 1, "ignores_term: \(termClasses)")
            #expect(db.instances("double_fork", class: "clean") == 1)
            #expect(db.instances("closer") == 1)
            #expect(db.instances("flooder") == 1)
            #expect(db.instances("forker") == 1)
            #expect(db.intOrZero("SELECT count(*) FROM orphan_intervals WHERE program = 'double_fork'") >= 1)
            #expect(db.events("recording_gap") == 0)
        }

        static func forkerPID(_ db: HistoryDB) -> Int32? {
            let pid = db.intOrZero("SELECT i.pid FROM instances i JOIN programs p ON p.id = i.program_id WHERE p.name = 'forker' ORDER BY i.id DESC LIMIT 1")
            return pid > 0 ? Int32(pid) : nil
        }
    }
}
