import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

extension EndToEnd {
    /// `histctl logs` and `histctl events` against a real histd and its real log files.
    @Suite struct LogsAndEvents {
        /// `histctl events --follow` polls the database this often (Sources/HistctlCommands/Events.swift).
        static let followPoll: TimeInterval = 0.2
        static let header = """
            [supervisor]
            db = "h.db"
            log_dir = "logs"
            snapshot_interval = "off"
            scan_interval = "off"

            """

        @Test func logsShowEachInstanceAndThePreviousOnes() throws {
            let ws = try Workspace("logs")
            defer { ws.cleanup() }
            // Runs 1 and 2 crash; run 3 stays up.
            let script = try ws.write("run.sh", """
                #!/bin/sh
                n=$(cat "\(ws.path("count"))" 2>/dev/null || echo 0); n=$((n+1)); echo $n > "\(ws.path("count"))"
                echo "out run $n"
                echo "err run $n" >&2
                [ $n -ge 3 ] && exec sleep 300
                exit 1
                """, executable: true)
            let config = try ws.write("histd.toml", Self.header + """

                [program.run]
                command = ["\(script)"]
                restart_delay = "50ms"
                backoff_factor = 1

                """)
            let histd = try ws.runHistd(config: config)
            let db = HistoryDB(path: ws.path("h.db"))
            try #require(E2E.waitUntil(20) { db.instances("run") == 3 && (try? String(contentsOfFile: ws.path("logs/run.err"), encoding: .utf8))?.contains("err run 3") == true },
                         "instances \(db.instances("run")), run.err: \((try? String(contentsOfFile: ws.path("logs/run.err"), encoding: .utf8)) ?? "-")\n\(ws.log())")

            func logs(_ args: [String]) throws -> E2E.Output {
                try E2E.run(E2E.histctl, ["logs", "run", "--config", config] + args)
            }
            func programLines(_ out: String) -> [String] {
                out.split(separator: "\n").filter { !$0.hasPrefix("### histd: start") }.map { String($0.dropFirst(25)) }
            }
            let all = try logs([])
            #expect(all.status == 0, "\(all.stderr)")
            #expect(programLines(all.stdout) == ["out run 1", "err run 1", "out run 2", "err run 2", "out run 3", "err run 3"], "\(all.stdout)")
            #expect(all.stdout.split(separator: "\n").filter { $0.hasPrefix("### histd: start run pid=") }.count == 3)
            // Every program line carries its UTC time.
            for line in all.stdout.split(separator: "\n") where !line.hasPrefix("###") {
                #expect(line.count > 25 && line.dropFirst(23).hasPrefix("Z "), "\(line)")
            }
            let previous = try logs(["--previous"])
            #expect(programLines(previous.stdout) == ["out run 2", "err run 2"], "\(previous.stdout) \(previous.stderr)")
            let second = try logs(["--previous=2"])
            #expect(programLines(second.stdout) == ["out run 1", "err run 1"], "\(second.stdout) \(second.stderr)")
            let errOnly = try logs(["--previous", "--stderr"])
            #expect(programLines(errOnly.stdout) == ["err run 2"])
            let last = try logs(["-n", "1"])
            #expect(programLines(last.stdout) == ["err run 3"])
            let tooFar = try logs(["--previous=3"])
            #expect(tooFar.status == 1 && tooFar.stderr.contains("previous instance"), "\(tooFar.stderr)")

            // histd gone: the log folder comes from the config the database's last run names.
            #expect(histd.stop() == 0)
            let after = try E2E.run(E2E.histctl, ["logs", "run", "--db", ws.path("h.db"), "--previous"])
            #expect(programLines(after.stdout) == ["out run 2", "err run 2"], "\(after.stdout) \(after.stderr)")
        }

        @Test func logsFollowSurvivesRotation() throws {
            let ws = try Workspace("logsf")
            defer { ws.cleanup() }
            // One line every 20 ms, into files that rotate at 1 KiB.
            let config = try ws.write("histd.toml", Self.header + """

                [program.ticker]
                command = ["/bin/sh", "-c", "i=0; while true; do i=$((i+1)); echo \\"tick $i\\"; sleep 0.02; done"]
                log_max_size = "1K"
                log_keep = 2

                """)
            _ = try ws.runHistd(config: config)
            try #require(E2E.waitUntil(20) { FileManager.default.fileExists(atPath: ws.path("logs/ticker.out")) }, "\(ws.log())")
            let follower = try Follower(E2E.histctl, ["logs", "ticker", "--stdout", "--follow", "--config", config], ws: ws)
            defer { follower.stop() }
            // Several rotations' worth of lines (each ~35 bytes stamped: ~30 per file).
            let got = E2E.waitUntil(30) {
                follower.lines.compactMap { $0.split(separator: " ").last.flatMap { Int($0) } }.count >= 150
            }
            #expect(got, "followed \(follower.lines.count) lines")
            #expect(FileManager.default.fileExists(atPath: ws.path("logs/ticker.out.1")), "the file rotated")
            // No gap and no repeat across the rotations: consecutive tick numbers.
            let ticks = follower.lines.compactMap { line -> Int? in
                guard line.contains(" tick ") else { return nil }
                return line.split(separator: " ").last.flatMap { Int($0) }
            }
            let start = ticks.firstIndex { _ in true } ?? 0
            let run = Array(ticks[start...])
            #expect(zip(run, run.dropFirst()).allSatisfy { $1 == $0 + 1 }, "ticks not consecutive: \(run.prefix(200))")
        }

        @Test func eventsFollowSeesACrashWithinOneSecond() throws {
            let ws = try Workspace("events")
            defer { ws.cleanup() }
            let config = try ws.write("histd.toml", Self.header + """

                [program.victim]
                command = ["/bin/sleep", "300"]
                restart_delay = "5s"

                [pool.jobs]
                command = ["/bin/sleep", "300"]
                min_workers = 2
                max_workers = 2

                """)
            _ = try ws.runHistd(config: config)
            let db = HistoryDB(path: ws.path("h.db"))
            try #require(E2E.waitUntil(20) { db.events("start") == 3 }, "\(ws.log())")
            let follower = try Follower(E2E.histctl, ["events", "--follow", "--since", "1m", "--db", ws.path("h.db")], ws: ws)
            defer { follower.stop() }
            // It is polling once it has printed the three starts.
            try #require(E2E.waitUntil(20) { follower.lines.filter { $0.contains(" start ") }.count == 3 }, "\(follower.lines)")
            let pid = Int32(db.intOrZero("SELECT pid FROM process_lifetimes WHERE program = 'victim' AND status = 'running'"))
            try #require(pid > 0)
            kill(pid, SIGKILL)
            // The bound is the follower's own mechanism: it polls every 200 ms, so a committed crash row
            // (watched here on another connection) shows on the poll after the commit: within two poll
            // intervals plus the run time of one poll's query. How fast the engine and the writer got the
            // row there is not what this test is about.
            var committed: Date?
            var shown: Date?
            let seen = E2E.waitUntil(10, poll: 0.01) {
                if committed == nil, db.events("crash") > 0 { committed = Date() }
                if shown == nil, follower.lines.contains(where: { $0.contains("victim") && $0.contains(" crash ") }) { shown = Date() }
                return committed != nil && shown != nil
            }
            #expect(seen, "\(follower.lines)")
            let polls = Self.followPoll * 3
            if let committed, let shown {
                #expect(shown.timeIntervalSince(committed) <= polls, "the crash showed \(shown.timeIntervalSince(committed)) s after its row was committed")
            }
            let crash = follower.lines.first { $0.contains(" crash ") } ?? ""
            #expect(crash.contains("\(pid)") && crash.contains("signal SIGKILL"), "\(crash)")
            // A pool worker is named as the logs name it, and --program takes that name.
            #expect(follower.lines.contains { $0.contains(" jobs.0 ") } && follower.lines.contains { $0.contains(" jobs.1 ") })
            let one = try E2E.run(E2E.histctl, ["events", "--since", "1h", "--db", ws.path("h.db"), "--program", "jobs.1"])
            #expect(one.stdout.split(separator: "\n").count == 1 && one.stdout.contains(" jobs.1 "), "\(one.stdout)")
            let pool = try E2E.run(E2E.histctl, ["events", "--since", "1h", "--db", ws.path("h.db"), "--program", "jobs"])
            #expect(pool.stdout.split(separator: "\n").count == 2, "\(pool.stdout)")
            // NDJSON: one object per line.
            let json = try E2E.run(E2E.histctl, ["events", "--since", "1h", "--db", ws.path("h.db"), "--format", "json"])
            let objects = json.stdout.split(separator: "\n").compactMap {
                try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
            }
            #expect(objects.count == json.stdout.split(separator: "\n").count && objects.count >= 5, "\(json.stdout)")
            #expect(objects.contains { $0["event"] as? String == "crash" && $0["pid"] as? Int == Int(pid) && $0["program"] as? String == "victim" })
        }
    }
}

/// A histctl that keeps running (--follow), its stdout collected line by line; killed by pid.
final class Follower: @unchecked Sendable {
    private let process = Process()
    private let lock = NSLock()
    private var collected: [String] = []
    private var partial = ""

    init(_ path: String, _ args: [String], ws: Workspace) throws {
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = args
        var env = ProcessInfo.processInfo.environment
        env[Workspace.markerKey] = ws.markerValue
        env.removeValue(forKey: "HISTD_DB")
        process.environment = env
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        out.fileHandleForReading.readabilityHandler = { [weak self] h in
            let data = h.availableData
            guard let self, !data.isEmpty else { return }
            self.lock.lock()
            self.partial += String(decoding: data, as: UTF8.self)
            while let nl = self.partial.firstIndex(of: "\n") {
                self.collected.append(String(self.partial[..<nl]))
                self.partial = String(self.partial[self.partial.index(after: nl)...])
            }
            self.lock.unlock()
        }
        try process.run()
    }

    var lines: [String] { lock.lock(); defer { lock.unlock() }; return collected }

    func stop() {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }
}
