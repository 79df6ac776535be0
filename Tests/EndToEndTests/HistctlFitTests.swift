import Foundation
import GRDB
import HistStore
import Testing

/// Tables that fit a terminal ($COLUMNS 80 and 200), hostile text that stays in its cell, the record view,
/// --limit footers, and the "never mislead" cases: unknown --program, top far from any sample, status --failed.
extension HistctlGoldenTests {
    /// The sample history plus a crash whose stderr tail has terminal escapes, a tab, a long line of wide
    /// characters and trailing blank lines; a zombie parent that is web's process with a hostile cmdline;
    /// and a one-scan zombie that the default --min-duration hides.
    func withHostileSample(_ body: (String) throws -> Void) throws {
        try withSample { db throws in
            let queue = try DatabaseQueue(path: db)
            try queue.write { d in
                try d.execute(sql: """
                    INSERT INTO instances (id, run_id, program_id, worker_index, pid, start_ticks, started_at, ended_at, exit_code,
                                           signal, core_dumped, class, uptime_ms, stderr_tail)
                    VALUES (9, 2, 2, 1, 202, 9400, 1795255900000, 1795256000000, 7, NULL, 0, 'crash', 100000, ?);
                    INSERT INTO zombie_parents (parent_pid, parent_start_ticks, parent_name, parent_cmdline, max_zombies, last_zombies,
                                                first_seen, last_seen, scans)
                    VALUES (103, 9300, 'web', ?, 12, 12, 1795255600000, 1795256200000, 11),
                           (900, 1, 'blip', 'blip', 1, 1, 1795255600000, 1795255600000, 1);
                    """, arguments: [
                        "first line\n\u{1B}[2J\u{1B}[31mred\ttab 日本語のエラーメッセージがとても長いのでこれは切られるべきです\n\n",
                        "/usr/bin/web --flag \u{1B}]0;pwned\u{7} 日本語 --a-very-long-option=value --another-one=1234567890 --more",
                    ])
                try HistoryRollups.rebuildAll(d)
            }
            try queue.close()
            try body(db)
        }
    }

    /// Every line's terminal width, and no raw escape character anywhere.
    func checkFits(_ text: String, _ columns: Int, sourceLocation: SourceLocation = #_sourceLocation) {
        for line in text.split(separator: "\n") {
            #expect(Self.width(String(line)) <= columns, "\(line)", sourceLocation: sourceLocation)
        }
        #expect(!text.unicodeScalars.contains { $0.value == 0x1B || $0.value == 0x07 || $0 == "\t" }, sourceLocation: sourceLocation)
    }

    /// Terminal columns (CJK and emoji are 2), enough for these fixtures.
    static func width(_ s: String) -> Int {
        s.unicodeScalars.reduce(0) { n, u in
            let v = u.value
            if (0x1100...0x115F).contains(v) || (0x2E80...0xA4CF).contains(v) || (0xAC00...0xD7A3).contains(v)
                || (0xF900...0xFAFF).contains(v) || (0xFF00...0xFF60).contains(v) || (0x1F300...0x1FAFF).contains(v) { return n + 2 }
            return n + 1
        }
    }

    @Test func crashesFit80And200Columns() throws {
        try withHostileSample { db throws in
            let narrow = try histctl(["crashes", "--db", db] + Self.range, env: ["COLUMNS": "80"])
            #expect(narrow.stdout == #"""
                time +00:00          program     exit_code  signal   uptime  reason  stderr_tail
                2026-11-21 09:30:00  web                 2  -        29m59s  crash   …line2
                2026-11-21 10:00:00  web                 -  SIGSEGV  14m59s  crash   segfault
                2026-11-21 10:01:00  web                 1  -         58.9s  crash   -
                2026-11-21 10:02:00  web                 -  SIGKILL     58s  limit   -
                2026-11-21 10:05:00  evil'; DR…          3  -        19m57s  crash   …💥 "quote…
                2026-11-21 10:13:20  workers             7  -         1m40s  crash   …\u{1b}[2J…
                (left out to fit 80 columns: core_dumped, restart_delay, pid; --wide shows all)

                """#)
            checkFits(narrow.stdout, 80)
            let wide = try histctl(["crashes", "--db", db] + Self.range, env: ["COLUMNS": "200"])
            #expect(wide.stdout == #"""
                time +00:00          program                              pid  exit_code  signal   core_dumped  uptime  restart_delay  reason  stderr_tail
                2026-11-21 09:30:00  web                                  100          2  -        no           29m59s              -  crash   …line2
                2026-11-21 10:00:00  web                                  100          -  SIGSEGV  yes          14m59s             1s  crash   segfault
                2026-11-21 10:01:00  web                                  101          1  -        no            58.9s             2s  crash   -
                2026-11-21 10:02:00  web                                  102          -  SIGKILL  no              58s             4s  limit   -
                2026-11-21 10:05:00  evil'; DROP TABLE events; -- "q" 🚀  300          3  -        no           19m57s              -  crash   …💥 "quoted", comma
                2026-11-21 10:13:20  workers                              202          7  -        no            1m40s              -  crash   …\u{1b}[2J\u{1b}[31mred→tab 日本語のエラーメッセージがとても長いのでこれ…

                """#)
            checkFits(wide.stdout, 200)
            // --wide: nothing shortened, nothing left out (the stderr tail's lines are joined with ⏎).
            let all = try histctl(["crashes", "--db", db, "--wide"] + Self.range, env: ["COLUMNS": "80"])
            #expect(all.stdout.contains("first line⏎\\u{1b}[2J\\u{1b}[31mred→tab 日本語のエラーメッセージがとても長いのでこれは切られるべきです⏎⏎"))
            #expect(all.stdout.contains("core_dumped"))
        }
    }

    @Test func zombiesAndStatusFit80And200Columns() throws {
        try withHostileSample { db throws in
            let z80 = try histctl(["zombies", "--db", db] + Self.range, env: ["COLUMNS": "80"])
            #expect(z80.stdout == #"""
                parent_pid  parent_cmdline   program  max_zombies  last_seen +00:00     duration
                       103  /usr/bin/web -…  web               12  2026-11-21 10:16:40       10m
                       500  /usr/bin/bad-r…  -                  3  2026-11-21 10:10:00     9m25s
                       500  other            -                  1  2026-11-21 10:21:00        1m
                (left out to fit 80 columns: first_seen, parent_name; --wide shows all)

                """#)
            checkFits(z80.stdout, 80)
            let z200 = try histctl(["zombies", "--db", db] + Self.range, env: ["COLUMNS": "200"])
            #expect(z200.stdout == #"""
                parent_pid  parent_name  parent_cmdline                                                                                         program  max_zombies  first_seen +00:00    last_seen +00:00     duration
                       103  web          /usr/bin/web --flag \u{1b}]0;pwned\u{7} 日本語 --a-very-long-option=value --another-one=1234567890 -…  web               12  2026-11-21 10:06:40  2026-11-21 10:16:40       10m
                       500  bad-reaper   /usr/bin/bad-reaper --x                                                                                -                  3  2026-11-21 10:00:35  2026-11-21 10:10:00     9m25s
                       500  other        other                                                                                                  -                  1  2026-11-21 10:20:00  2026-11-21 10:21:00        1m

                """#)
            checkFits(z200.stdout, 200)
            let s80 = try histctl(["status", "--db", db] + Self.range, env: ["COLUMNS": "80"])
            #expect(s80.stdout == #"""
                program                      kind     state    pid  workers  uptime  restarts_1h
                evil'; DROP TABLE events; …  program  failed     -        -       -            0
                web                          program  unknown    -        -       -            3
                workers                      pool     unknown    -        1       -            0
                (left out to fit 80 columns: last_exit_code, last_signal, last_exit_at,
                  last_exit_class; --wide shows all)
                newest event: 2026-11-21 10:15:00 +00:00
                newest sweep: 2026-11-21 10:00:50 +00:00
                supervisor run open: yes
                unknown: histd not running since 2026-11-21T10:15:00.000Z

                """#)
            checkFits(s80.stdout, 80)
            let s200 = try histctl(["status", "--db", db] + Self.range, env: ["COLUMNS": "200"])
            #expect(s200.stdout == #"""
                program                              kind     state    pid  workers  uptime  restarts_1h  last_exit_at +00:00  last_exit_code  last_signal  last_exit_class
                evil'; DROP TABLE events; -- "q" 🚀  program  failed     -        -       -            0  2026-11-21 10:05:00               3  -            crash
                web                                  program  unknown    -        -       -            3  2026-11-21 10:02:00               -  SIGKILL      limit
                workers                              pool     unknown    -        1       -            0  2026-11-21 10:13:20               7  -            crash
                newest event: 2026-11-21 10:15:00 +00:00
                newest sweep: 2026-11-21 10:00:50 +00:00
                supervisor run open: yes
                unknown: histd not running since 2026-11-21T10:15:00.000Z

                """#)
            checkFits(s200.stdout, 200)
        }
    }

    @Test func zombieFiltersAndProgram() throws {
        try withHostileSample { db throws in
            func parents(_ extra: [String]) throws -> [String] {
                let r = try histctl(["zombies", "--db", db, "--format", "csv"] + Self.range + extra)
                #expect(r.status == 0, "\(r.stderr)")
                return r.stdout.split(separator: "\r\n").dropFirst().map { String($0.split(separator: ",")[1]) }
            }
            #expect(try parents([]) == ["web", "bad-reaper", "other"])                 // the one-scan blip is hidden
            #expect(try parents(["--min-duration", "1 scan"]) == ["web", "bad-reaper", "other", "blip"])
            #expect(try parents(["--min-duration", "9m30s"]) == ["web"])
            #expect(try parents(["--min-zombies", "3"]) == ["web", "bad-reaper"])
            #expect(try parents(["--program", "web"]) == ["web"])
            let csv = try histctl(["zombies", "--db", db, "--format", "csv", "--program", "web"] + Self.range)
            #expect(csv.stdout.hasPrefix("parent_pid,parent_name,parent_cmdline,program,max_zombies,first_seen,last_seen,duration_s\r\n103,web,"))
            #expect(try histctl(["zombies", "--db", db, "--min-duration", "soon"]).status == 64)
        }
    }

    @Test func lastShowsWholeStderrTailAsLines() throws {
        try withHostileSample { db throws in
            let r = try histctl(["crashes", "--db", db, "--program", "workers", "--last"] + Self.range)
            #expect(r.status == 0)
            #expect(r.stdout == #"""
                Crash 1 of 1: workers pid 202
                  time:           2026-11-21 10:13:20 +00:00
                  program:        workers
                  pid:            202
                  exit_code:      7
                  signal:         -
                  core_dumped:    no
                  uptime:         1m40s
                  restart_delay:  -
                  reason:         crash
                  stderr_tail:
                    first line
                    \u{1b}[2J\u{1b}[31mred→tab 日本語のエラーメッセージがとても長いのでこれは切られるべきです

                """#)
            checkFits(r.stdout, 200)
            // A pool worker by its log name; another worker has no crash.
            let one = try histctl(["crashes", "--db", db, "--program", "workers.1", "--format", "csv"] + Self.range)
            #expect(one.stdout.split(separator: "\r\n").count == 2)
            let zero = try histctl(["crashes", "--db", db, "--program", "workers.0", "--format", "csv", "--fail-if-found"] + Self.range)
            #expect(zero.status == 0)
            #expect(zero.stdout.split(separator: "\r\n").count == 1)
        }
    }

    @Test func limitFooterAndCompleteJSON() throws {
        try withHostileSample { db throws in
            let r = try histctl(["crashes", "--db", db, "-n", "2"] + Self.range)
            #expect(r.stdout.hasSuffix("(4 more; use --limit N or --all)\n"))
            #expect(r.stdout.contains("2026-11-21 10:13:20  workers"))          // the newest are kept
            #expect(!r.stdout.contains("09:30:00"))
            let json = try histctl(["crashes", "--db", db, "--format", "json"] + Self.range)
            let rows = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: Any]]
            #expect(rows?.count == 6)
            #expect(rows?.first?["uptime_s"] as? Double == 1799.0)              // seconds as numbers
            #expect(try histctl(["crashes", "--db", db, "-n", "0"]).status == 64)
            #expect(try histctl(["crashes", "--db", db, "-n", "2", "--all"]).status == 64)
        }
    }

    @Test func unknownProgramIsAUsageErrorWithASuggestion() throws {
        try withSample { db throws in
            let typo = try histctl(["crashes", "--db", db, "--program", "webb", "--fail-if-found"] + Self.range)
            #expect(typo.status == 64)
            #expect(typo.stdout == "")
            #expect(typo.stderr.contains(#"no program, pool or pool worker named "webb""#))
            #expect(typo.stderr.contains(#"did you mean "web"?"#))
            let far = try histctl(["status", "--db", db, "--program", "nosuch"])
            #expect(far.status == 64)
            #expect(far.stderr.contains(#"(it has "evil'; DROP TABLE events; -- \"q\" 🚀", "web", "workers")"#))
            // A worker slot that never had a process is unknown too.
            #expect(try histctl(["crashes", "--db", db, "--program", "workers.7"]).status == 64)
            for command in ["loops", "breaches", "orphans", "zombies", "top", "postmortem"] {
                #expect(try histctl([command, "--db", db, "--program", "nosuch"]).status == 64, "\(command)")
            }
        }
    }

    @Test func topSaysHowFarTheSampleIs() throws {
        try withSample { db throws in
            for at in ["2026-11-21 03:14", "2020-01-01"] {
                let r = try histctl(["top", "--db", db, "--at", at, "--fail-if-found", "--now", "2026-11-21T10:30:00Z"])
                #expect(r.status == 0, "\(at)")
                #expect(r.stdout.hasPrefix("no sampling sweep within 1m of "), "\(r.stdout)")
                #expect(r.stdout.contains("the nearest is at 2026-11-21 10:00:30 +00:00"))
                #expect(!r.stdout.contains("web"))
                let json = try histctl(["top", "--db", db, "--at", at, "--format", "json", "--now", "2026-11-21T10:30:00Z"])
                let o = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
                #expect((o?["processes"] as? [Any])?.isEmpty == true)
                #expect((o?["sweep"] as? [String: Any])?["near"] as? Bool == false)
            }
        }
    }

    @Test func statusFailedAndFailIfFound() throws {
        try withSample { db throws in
            let failed = try histctl(["status", "--db", db, "--failed", "--format", "csv", "--fail-if-found", "--now", "2026-11-21T10:30:00Z"])
            #expect(failed.status == 3)
            #expect(failed.stdout.split(separator: "\r\n").count == 2)
            #expect(failed.stdout.contains("failed"))
            // Nothing broken among the programs asked about: exit 0.
            let fine = try histctl(["status", "--db", db, "--program", "web", "--fail-if-found", "--now", "2026-11-21T10:30:00Z"])
            #expect(fine.status == 0)
            let none = try histctl(["status", "--db", db, "--program", "web", "--failed", "--fail-if-found", "--now", "2026-11-21T10:30:00Z"])
            #expect(none.status == 0)
            #expect(none.stdout == "(no rows)\n")
        }
    }
}
