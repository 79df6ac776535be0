import Foundation
import Testing
import TestThreads

/// Runs the built histctl (`E2E.histctl`) against databases with known content and compares whole outputs.
@Suite(.serialized, .blocking) struct HistctlGoldenTests {
    static let root: URL = {
        var dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        while !FileManager.default.fileExists(atPath: dir.appendingPathComponent("Package.swift").path), dir.path != "/" {
            dir.deleteLastPathComponent()
        }
        return dir
    }()
    static var binary: String { E2E.histctl }

    struct Output { var status: Int32; var stdout: String; var stderr: String }

    /// Runs histctl with TZ=UTC, no TTY (pipes), NO_COLOR unset, and no $HISTD_DB.
    func histctl(_ args: [String], env extra: [String: String] = [:]) throws -> Output {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Self.binary)
        p.arguments = args
        var env = ProcessInfo.processInfo.environment
        env["TZ"] = "UTC"
        env.removeValue(forKey: "HISTD_DB")
        env.removeValue(forKey: "NO_COLOR")
        env.removeValue(forKey: "COLUMNS")
        for (k, v) in extra { env[k] = v }
        p.environment = env
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        defer { if p.isRunning { kill(p.processIdentifier, SIGKILL) } }
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return Output(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
    }

    func withSample(empty: Bool = false, _ body: (String) throws -> Void) throws {
        let dir = NSTemporaryDirectory() + "histctl-e2e-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try HistctlSample.create(at: dir + "/h.db", empty: empty)
        try body(dir + "/h.db")
    }

    static let range = ["--since", "2026-11-21T09:00:00Z", "--until", "2026-11-21T11:00:00Z", "--now", "2026-11-21T10:30:00Z"]

    @Test func crashesTable() throws {
        try withSample { db throws in
            let r = try histctl(["crashes", "--db", db] + Self.range)
            #expect(r.status == 0)
            #expect(r.stderr == "")
            #expect(r.stdout == """
                time +00:00          program                              pid  exit_code  signal   core_dumped  uptime  restart_delay  reason  stderr_tail
                2026-11-21 09:30:00  web                                  100          2  -        no           29m59s              -  crash   boom "quoted"⏎line2
                2026-11-21 10:00:00  web                                  100          -  SIGSEGV  yes          14m59s             1s  crash   segfault
                2026-11-21 10:01:00  web                                  101          1  -        no            58.9s             2s  crash   -
                2026-11-21 10:02:00  web                                  102          -  SIGKILL  no              58s             4s  limit   -
                2026-11-21 10:05:00  evil'; DROP TABLE events; -- "q" 🚀  300          3  -        no           19m57s              -  crash   '; DROP TABLE events; --⏎💥 "quoted", comma

                """)
        }
    }

    @Test func crashesJSON() throws {
        try withSample { db throws in
            let r = try histctl(["crashes", "--db", db, "--format", "json"] + Self.range)
            #expect(r.status == 0)
            #expect(r.stdout == #"""
                [
                  {"time": "2026-11-21T09:30:00.000Z", "program": "web", "pid": 100, "exit_code": 2, "signal": null, "core_dumped": false, "uptime_s": 1799.0, "restart_delay_s": null, "reason": "crash", "stderr_tail": "boom \"quoted\"\nline2"},
                  {"time": "2026-11-21T10:00:00.123Z", "program": "web", "pid": 100, "exit_code": null, "signal": "SIGSEGV", "core_dumped": true, "uptime_s": 899.123, "restart_delay_s": 1.0, "reason": "crash", "stderr_tail": "segfault"},
                  {"time": "2026-11-21T10:01:00.000Z", "program": "web", "pid": 101, "exit_code": 1, "signal": null, "core_dumped": false, "uptime_s": 58.877, "restart_delay_s": 2.0, "reason": "crash", "stderr_tail": null},
                  {"time": "2026-11-21T10:02:00.000Z", "program": "web", "pid": 102, "exit_code": null, "signal": "SIGKILL", "core_dumped": false, "uptime_s": 58.0, "restart_delay_s": 4.0, "reason": "limit", "stderr_tail": null},
                  {"time": "2026-11-21T10:05:00.000Z", "program": "evil'; DROP TABLE events; -- \"q\" 🚀", "pid": 300, "exit_code": 3, "signal": null, "core_dumped": false, "uptime_s": 1197.0, "restart_delay_s": null, "reason": "crash", "stderr_tail": "'; DROP TABLE events; --\n💥 \"quoted\", comma"}
                ]

                """#)
        }
    }

    @Test func crashesCSVRoundTripsNastyText() throws {
        try withSample { db throws in
            let r = try histctl(["crashes", "--db", db, "--format", "csv", "--program", "evil'; DROP TABLE events; -- \"q\" 🚀"] + Self.range)
            #expect(r.status == 0)
            #expect(r.stdout == "time,program,pid,exit_code,signal,core_dumped,uptime_s,restart_delay_s,reason,stderr_tail\r\n"
                + "2026-11-21T10:05:00.000Z,\"evil'; DROP TABLE events; -- \"\"q\"\" 🚀\",300,3,,false,1197.0,,crash,\"'; DROP TABLE events; --\n💥 \"\"quoted\"\", comma\"\r\n")
        }
    }

    @Test func loopsStatusAndTopTables() throws {
        try withSample { db throws in
            let loops = try histctl(["loops", "--db", db] + Self.range)
            #expect(loops.stdout == """
                program  crashes  first +00:00         last +00:00          longest_uptime  max_restart_delay  gave_up  state    workers
                web            3  2026-11-21 10:00:00  2026-11-21 10:02:00          14m59s                 4s  no       running        -

                """)
            let status = try histctl(["status", "--db", db, "--format", "json", "--now", "2026-11-21T10:30:00Z"])
            #expect(status.stdout == #"""
                [
                  {"program": "evil'; DROP TABLE events; -- \"q\" 🚀", "kind": "program", "state": "failed", "pid": null, "workers": null, "uptime_s": null, "restarts_1h": 0, "last_exit_at": "2026-11-21T10:05:00.000Z", "last_exit_code": 3, "last_signal": null, "last_exit_class": "crash", "last_event": "2026-11-21T10:15:00.000Z", "last_snapshot": "2026-11-21T10:00:50.000Z", "run_open": true},
                  {"program": "web", "kind": "program", "state": "unknown (histd not running since 2026-11-21T10:15:00.000Z)", "pid": null, "workers": null, "uptime_s": null, "restarts_1h": 3, "last_exit_at": "2026-11-21T10:02:00.000Z", "last_exit_code": null, "last_signal": "SIGKILL", "last_exit_class": "limit", "last_event": "2026-11-21T10:15:00.000Z", "last_snapshot": "2026-11-21T10:00:50.000Z", "run_open": true},
                  {"program": "workers", "kind": "pool", "state": "unknown (histd not running since 2026-11-21T10:15:00.000Z)", "pid": null, "workers": 1, "uptime_s": null, "restarts_1h": 0, "last_exit_at": "2026-11-21T10:10:00.000Z", "last_exit_code": 0, "last_signal": null, "last_exit_class": "clean", "last_event": "2026-11-21T10:15:00.000Z", "last_snapshot": "2026-11-21T10:00:50.000Z", "run_open": true}
                ]

                """#)
            let top = try histctl(["top", "--db", db, "--at", "2026-11-21T10:00:41Z"])
            #expect(top.stdout == """
                sampling sweep at 2026-11-21 10:00:40 +00:00 (1s before)
                time +00:00          program  worker  pid  state  cpu_pct  rss_kb  vsz_kb  threads  fds  procs
                2026-11-21 10:00:40  web           -  101  R         60.0   30000   90000        4   10      1
                2026-11-21 10:00:40  workers       0  200  S         20.0   80000  120000        2    8      1

                system scan at 2026-11-21 10:00:35 +00:00 (6s before)
                time +00:00          total  running  sleeping  disk_sleep  zombie  stopped  other  total_rss_kb
                2026-11-21 10:00:35    120        3       110           1       2        0      4       5000000

                """)
            // Local time follows $TZ.
            let paris = try histctl(["breaches", "--db", db] + Self.range, env: ["TZ": "Europe/Paris"])
            #expect(paris.stdout.contains("2026-11-21 11:01:59  web      102  max_memory_mb  600 MiB  512 MiB    stop          -"))
            #expect(paris.stdout.hasPrefix("time +01:00 "))
        }
    }

    @Test func postmortemCallsOutTheGap() throws {
        try withSample { db throws in
            let r = try histctl(["postmortem", "--db", db] + Self.range)
            #expect(r.status == 0)
            #expect(r.stdout.hasPrefix("""
                # Postmortem: 2026-11-21 09:00:00 +00:00 to 2026-11-21 11:00:00 +00:00

                > **⚠ The record is incomplete between 2026-11-21 09:30:00 +00:00 and 2026-11-21 09:45:00 +00:00**: histd run 1 ended uncleanly; nothing was recorded until the next start.
                >
                > **⚠ The record is incomplete between 2026-11-21 10:15:00 +00:00 and 2026-11-21 10:19:59 +00:00**: 17 records dropped (recording_gap: queue_full).

                """))
            let json = try histctl(["postmortem", "--db", db, "--format", "json"] + Self.range)
            let parsed = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
            #expect((parsed?["record_incomplete"] as? [Any])?.count == 2)
        }
    }

    @Test func exitCodes() throws {
        try withSample { db throws in
            #expect(try histctl(["crashes", "--db", db, "--fail-if-found"] + Self.range).status == 3)
            #expect(try histctl(["zombies", "--db", db, "--fail-if-found", "--since", "2026-11-20", "--until", "2026-11-21T08:00:00Z"]).status == 0)
            let bad = try histctl(["crashes", "--db", db, "--since", "the day before"])
            #expect(bad.status == 64)
            #expect(bad.stderr.contains("invalid time \"the day before\" for --since"))
            #expect(bad.stderr.contains("\"2026-11-21T10:00:00Z\""))
            #expect(bad.stderr.contains("\"1d\""))
            #expect(try histctl(["loops", "--db", db, "--window", "soon"]).status == 64)
            let write = try histctl(["sql", "--db", db, "DELETE FROM events"])
            #expect(write.status == 1)
            #expect(write.stderr.contains("histctl sql is read-only"))
            let read = try histctl(["sql", "--db", db, "--format", "csv", "SELECT COUNT(*) AS n FROM events"])
            #expect(read.stdout == "n\r\n24\r\n")
        }
        try withSample(empty: true) { db throws in
            let r = try histctl(["crashes", "--db", db, "--fail-if-found"])
            #expect(r.status == 0)
            #expect(r.stdout == "(no rows)\n")
            #expect(try histctl(["crashes", "--db", db, "--format", "json"]).stdout == "[]\n")
        }
    }

    @Test func pruneWritesAndSaysWhat() throws {
        try withSample { db throws in
            // Defaults from the config (its db is relative to its folder): keep events from 10:00Z and snapshots
            // from 10:00:45Z.
            let config = (db as NSString).deletingLastPathComponent + "/histd.toml"
            try """
                [supervisor]
                db = "h.db"
                retention = "30m"
                snapshot_retention = "1755s"

                [program.web]
                command = ["/bin/true"]
                """.write(toFile: config, atomically: true, encoding: .utf8)
            let r = try histctl(["prune", "--config", config, "--now", "2026-11-21T10:30:00Z"])
            #expect(r.status == 0, "\(r.stderr)")
            #expect(r.stdout == """
                table           deleted  older_than +00:00
                events                9  2026-11-21 10:00:00
                instances             1  2026-11-21 10:00:00
                scans                 0  2026-11-21 10:00:00
                zombie_parents        0  2026-11-21 10:00:00
                orphans               0  2026-11-21 10:00:00
                sweeps                2  2026-11-21 10:00:45
                snapshots             4  2026-11-21 10:00:45

                """)
            // Flags win over the config; nothing is left to delete.
            let again = try histctl(["prune", "--config", config, "--db", db, "--retention", "30m", "--snapshot-retention", "1755s",
                                     "--format", "csv", "--now", "2026-11-21T10:30:00Z"])
            #expect(again.stdout.contains("events,0,2026-11-21T10:00:00.000Z\r\n"))
            #expect(again.stdout.contains("snapshots,0,2026-11-21T10:00:45.000Z\r\n"))
            let read = try histctl(["sql", "--db", db, "--format", "csv", "SELECT COUNT(*) AS n FROM events"])
            #expect(read.stdout == "n\r\n15\r\n")
            // Its help says that it writes; the others say they don't.
            #expect(try histctl(["prune", "--help"]).stdout.contains("the one histctl command that WRITES"))
            #expect(try histctl(["--help"]).stdout.contains("except `histctl prune`"))
            #expect(try histctl(["prune", "--db", db, "--retention", "soon"]).status == 64)
        }
        // A missing database is not created.
        let dir = NSTemporaryDirectory() + "histctl-e2e-prune-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let missing = try histctl(["prune", "--db", dir + "/none.db"])
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("no history database at"))
        #expect(!FileManager.default.fileExists(atPath: dir + "/none.db"))
    }

    @Test func badDatabasesAreReportedAndLeftAlone() throws {
        let dir = NSTemporaryDirectory() + "histctl-e2e-bad-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try HistctlSample.create(at: dir + "/good.db")
        let good = try Data(contentsOf: URL(fileURLWithPath: dir + "/good.db"))
        _ = FileManager.default.createFile(atPath: dir + "/empty.db", contents: Data())
        _ = FileManager.default.createFile(atPath: dir + "/cut.db", contents: good.prefix(good.count / 2 + 100))
        let other = dir + "/other.db"
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", "-c", "import sqlite3; c=sqlite3.connect('\(other)'); c.execute('create table t(a)'); c.commit()"]
        try p.run()
        p.waitUntilExit()
        let cases: [(String, String)] = [
            (dir + "/missing.db", "no history database at"), (dir, "is a directory"), (dir + "/empty.db", "is empty"),
            (dir + "/cut.db", "truncated"), (other, "not a histd history"),
        ]
        for (path, message) in cases {
            let before = try? Data(contentsOf: URL(fileURLWithPath: path))
            let r = try histctl(["crashes", "--db", path])
            #expect(r.status == 1, "\(path)")
            #expect(r.stderr.contains(message), "\(r.stderr)")
            #expect(r.stdout == "")
            #expect((try? Data(contentsOf: URL(fileURLWithPath: path))) == before, "\(path) unchanged")
        }
        #expect(!FileManager.default.fileExists(atPath: dir + "/missing.db"))
        // $HISTD_DB is used when --db is absent, and named in the error.
        let env = try histctl(["status"], env: ["HISTD_DB": dir + "/nope.db"])
        #expect(env.status == 1)
        #expect(env.stderr.contains("nope.db") && env.stderr.contains("$HISTD_DB"))
    }
}
