import Foundation
import Testing
@testable import HistConfig
import HistModel

/// Each broken config must be reported with the file, the line and the key.
@Suite struct BrokenConfigTests {
    /// (toml, line, key, message fragment). Line numbers count from the first line of `toml`.
    static let cases: [(String, Int, String?, String)] = [
        // unknown key, with a suggestion
        ("[program.a]\ncommand = \"/bin/sh\"\nrestart_dely = \"1s\"\n", 3, "program.a.restart_dely", "unknown key; did you mean restart_delay?"),
        // unknown table
        ("[programs.a]\ncommand = \"/bin/sh\"\n", 1, "programs", "unknown table [programs]; did you mean program?"),
        ("[supervisor]\n[supervisor.extra]\nx = 1\n", 2, "supervisor.extra", "unknown table [supervisor.extra]"),
        // wrong types
        ("[program.a]\ncommand = \"/bin/sh\"\nautostart = \"yes\"\n", 3, "program.a.autostart", "expected true or false, got a string"),
        ("[program.a]\ncommand = 42\n", 2, "program.a.command", "got an integer"),
        ("[program.a]\ncommand = [\"/bin/sh\", 1]\n", 2, "program.a.command", "command[1]: expected a string, got an integer"),
        ("[program.a]\ncommand = \"/bin/sh\"\nmax_restarts = 2.5\n", 3, "program.a.max_restarts", "expected an integer"),
        ("[program.a]\ncommand = \"/bin/sh\"\nenv = { PORT = 8080 }\n", 3, "program.a.env.PORT", "quote it: PORT = \"8080\""),
        ("[program.a]\ncommand = \"/bin/sh\"\nenv = \"PORT=1\"\n", 3, "program.a.env", "expected a table of strings"),
        ("[supervisor]\norphan_ignore = \"sshd\"\n", 2, "supervisor.orphan_ignore", "expected an array of strings, got a string"),
        ("supervisor = 3\n", 1, "supervisor", "expected a table [supervisor], got an integer"),
        ("[[program]]\ncommand = \"/bin/sh\"\n", 1, "program", "[[program]] is not used"),
        ("[program]\ncommand = \"/bin/sh\"\n", 2, "program.command", "write [program.NAME]"),
        // missing / empty / unusable command
        ("\n[program.a]\nrestart = \"never\"\n", 2, "program.a", "missing command"),
        ("[program.a]\ncommand = []\n", 2, "program.a.command", "empty command"),
        ("[program.a]\ncommand = \"   \"\n", 2, "program.a.command", "empty command"),
        ("[program.a]\ncommand = [\"\"]\n", 2, "program.a.command", "command[0] is empty"),
        ("[program.a]\ncommand = [\"/nonexistent/histd-test-prog\"]\n", 2, "program.a.command", "not found"),
        ("[program.a]\ncommand = \"histd-no-such-program-xyz --flag\"\n", 2, "program.a.command", "not found in $PATH"),
        ("[program.a]\ncommand = [\"/tmp\"]\n", 2, "program.a.command", "is a directory"),
        ("[program.a]\ncommand = \"/bin/sh -c 'unbalanced\"\n", 2, "program.a.command", "unbalanced single quote"),
        // durations
        ("[program.a]\ncommand = \"/bin/sh\"\nrestart_delay = \"soon\"\n", 3, "program.a.restart_delay", "invalid duration \"soon\": expected a number with a unit: \"250ms\""),
        ("[program.a]\ncommand = \"/bin/sh\"\nstop_timeout = true\n", 3, "program.a.stop_timeout", "expected a duration"),
        ("[program.a]\ncommand = \"/bin/sh\"\nstop_timeout = -1\n", 3, "program.a.stop_timeout", "not a usable number of seconds"),
        ("[supervisor]\nsnapshot_interval = \"2h\"\n", 2, "supervisor.snapshot_interval", "between 100ms and 1h"),
        ("[supervisor]\nscan_interval = \"10ms\"\n", 2, "supervisor.scan_interval", "between 100ms and 1h"),
        // control socket (docs/CONTROL.md)
        ("[supervisor]\ncontrol_group = \"histd-no-such-group-xyz\"\n", 2, "supervisor.control_group", "no such group \"histd-no-such-group-xyz\""),
        ("[supervisor]\nread_group = 7\n", 2, "supervisor.read_group", "expected a group name"),
        ("[supervisor]\ncontrol_socket = \"/tmp\"\n", 2, "supervisor.control_socket", "is a directory"),
        ("[supervisor]\nscan_interval = \"never\"\n", 2, "supervisor.scan_interval", "expected \"off\" or"),
        // enums
        ("[program.a]\ncommand = \"/bin/sh\"\nrestart = \"sometimes\"\n", 3, "program.a.restart", "expected one of \"always\", \"on-failure\", \"never\""),
        ("[program.a]\ncommand = \"/bin/sh\"\nrestart = \"on-fail\"\n", 3, "program.a.restart", "did you mean on-failure?"),
        ("[pool.p]\ncommand = \"/bin/sh\"\nscale_on = \"cpu\"\n", 3, "pool.p.scale_on", "expected one of \"pool_cpu\", \"system_cpu\""),
        ("[program.a]\ncommand = \"/bin/sh\"\nstop_signal = \"TERMINATE\"\n", 3, "program.a.stop_signal", "unknown signal \"TERMINATE\""),
        ("[program.a]\ncommand = \"/bin/sh\"\nstop_signal = 99\n", 3, "program.a.stop_signal", "unknown signal \"99\""),
        // ranges
        ("[program.a]\ncommand = \"/bin/sh\"\nmax_restarts = -1\n", 3, "program.a.max_restarts", "-1 is out of range"),
        ("[program.a]\ncommand = \"/bin/sh\"\nbackoff_factor = 0.5\n", 3, "program.a.backoff_factor", "0.5 is out of range: expected a number between 1.0"),
        ("[program.a]\ncommand = \"/bin/sh\"\nbackoff_factor = nan\n", 3, "program.a.backoff_factor", "out of range"),
        ("[program.a]\ncommand = \"/bin/sh\"\nmax_memory_mb = 0\n", 3, "program.a.max_memory_mb", "expected a positive number of MiB"),
        ("[program.a]\ncommand = \"/bin/sh\"\nmax_memory_mb = 9223372036854775807\n", 3, "program.a.max_memory_mb", "out of range"),
        ("[program.a]\ncommand = \"/bin/sh\"\nstop_timeout = 1e300\n", 3, "program.a.stop_timeout", "not a usable number of seconds"),
        ("[program.a]\ncommand = \"/bin/sh\"\nstop_order = -9223372036854775808\n", 3, "program.a.stop_order", "out of range"),
        ("[program.a]\ncommand = \"/bin/sh\"\nrestart_delay = \"10s\"\nmax_backoff = \"1s\"\n", 4, "program.a.max_backoff", "shorter than restart_delay"),
        ("[program.a]\ncommand = \"/bin/sh\"\nlog_keep = 100000\n", 3, "program.a.log_keep", "between 0 and 1000"),
        ("[pool.p]\ncommand = \"/bin/sh\"\nmin_workers = 5\nmax_workers = 2\n", 4, "pool.p.max_workers", "max_workers (2) is less than min_workers (5)"),
        ("[pool.p]\ncommand = \"/bin/sh\"\nmax_workers = 0\n", 3, "pool.p.max_workers", "out of range"),
        ("[pool.p]\ncommand = \"/bin/sh\"\ncpu_target = 0\n", 3, "pool.p.cpu_target", "out of range"),
        ("[pool.p]\ncommand = \"/bin/sh\"\nage_jitter = 2\n", 3, "pool.p.age_jitter", "between 0 and 1"),
        ("[pool.p]\ncommand = \"/bin/sh\"\nmax_worker_age = \"0s\"\n", 3, "pool.p.max_worker_age", "at least 1s"),
        // cgroup (inline table keys have their own lines)
        ("[program.a]\ncommand = \"/bin/sh\"\ncgroup = { memory_max = \"lots\" }\n", 3, "program.a.cgroup.memory_max", "invalid size \"lots\""),
        ("[program.a]\ncommand = \"/bin/sh\"\n\ncgroup = { tasks_max = 1,  cpu_quota = \"-5%\" }\n", 4, "program.a.cgroup.cpu_quota", "invalid percentage"),
        ("[program.a]\ncommand = \"/bin/sh\"\n[program.a.cgroup]\ncpu_quota = 0\ntask_max = 3\n", 5, "program.a.cgroup.task_max", "did you mean tasks_max?"),
        ("[program.a]\ncommand = \"/bin/sh\"\n[program.a.cgroup]\ncpu_quota = 0\n", 4, "program.a.cgroup.cpu_quota", "expected more than 0%"),
        ("[program.a]\ncommand = \"/bin/sh\"\ncgroup = { tasks_max = 0 }\n", 3, "program.a.cgroup.tasks_max", "out of range"),
        // names
        ("[program.\"a/b\"]\ncommand = \"/bin/sh\"\n", 1, "program.\"a/b\"", "cannot contain \"/\""),
        ("[program.\"..\"]\ncommand = \"/bin/sh\"\n", 1, "program.\"..\"", "cannot be used"),
        ("[program.\"\"]\ncommand = \"/bin/sh\"\n", 1, "program.\"\"", "must not be empty"),
        ("[program.\"a\\nb\"]\ncommand = \"/bin/sh\"\n", 1, "program.\"a\\nb\"", "control characters"),
        ("[program.\"a\\u0000b\"]\ncommand = \"/bin/sh\"\n", 1, "program.\"a\\u0000b\"", "NUL character"),
        ("[program.web]\ncommand = \"/bin/sh\"\n\n[pool.web]\ncommand = \"/bin/sh\"\n", 4, "pool.web", "already used by [program.web] (line 1)"),
        // a NUL inside a string value (it would be cut short on its way to the program)
        ("[program.a]\ncommand = [\"/bin/sh\", \"x\\u0000y\"]\n", 2, "program.a.command", "NUL character"),
    ]

    @Test(arguments: cases)
    func reportsFileLineAndKey(toml: String, line: Int, key: String?, message: String) {
        let dir = ConfigDir()
        let problems = dir.problems(toml)
        expectProblem(problems, line: line, key: key, contains: message)
        #expect(problems.allSatisfy { $0.file == dir.path + "/histd.toml" })
        // The printed form is FILE:LINE: KEY: message.
        if let p = problems.first(where: { $0.line == line && $0.key == key }) {
            #expect(p.description.hasPrefix("\(dir.path)/histd.toml:\(line): \(key.map { $0 + ": " } ?? "")"))
        }
    }

    @Test func syntaxErrorHasLineAndColumn() {
        let dir = ConfigDir()
        let problems = dir.problems("[supervisor]\ndb = \"x.db\"\n\n[program.a\ncommand = \"/bin/sh\"\n")
        #expect(problems.count == 1)
        #expect(problems.first?.line == 4)
        #expect(problems.first?.column != nil)
        #expect(problems.first?.message.hasPrefix("TOML syntax error") == true)
        #expect(problems.first?.description.hasPrefix(dir.path + "/histd.toml:4:") == true)
    }

    @Test func duplicateTableIsATOMLErrorWithItsLine() {
        let dir = ConfigDir()
        let problems = dir.problems("[program.a]\ncommand = \"/bin/sh\"\n\n[program.a]\nrestart = \"never\"\n")
        #expect(problems.count == 1)
        #expect(problems.first?.line == 4)
        #expect(problems.first?.message.contains("TOML syntax error") == true)
    }

    @Test func integerOverflowIsReportedWithItsLine() {
        let dir = ConfigDir()
        let problems = dir.problems("[program.a]\ncommand = \"/bin/sh\"\nmax_restarts = 99999999999999999999999\n")
        #expect(problems.count == 1)
        #expect(problems.first?.line == 3)
    }

    @Test func notExecutableCommand() {
        let dir = ConfigDir()
        dir.write("script.sh", "#!/bin/sh\n")  // no +x
        let problems = dir.problems("[program.a]\ncommand = [\"./script.sh\"]\n")
        expectProblem(problems, line: 2, key: "program.a.command", contains: "is not executable")
        expectProblem(problems, line: 2, key: "program.a.command", contains: dir.path + "/script.sh")
    }

    @Test func cwdMustBeAnExistingDirectory() {
        let dir = ConfigDir()
        dir.write("file.txt", "x")
        let problems = dir.problems("""
        [program.a]
        command = "/bin/sh"
        cwd = "missing"
        [program.b]
        command = "/bin/sh"
        cwd = "file.txt"
        """)
        expectProblem(problems, line: 3, key: "program.a.cwd", contains: "\(dir.path)/missing does not exist")
        expectProblem(problems, line: 6, key: "program.b.cwd", contains: "is not a directory")
    }

    @Test func everyProblemIsReportedTogetherInLineOrder() {
        let dir = ConfigDir()
        let problems = dir.problems("""
        [supervisor]
        snapshot_interval = "1ms"
        bogus = true

        [program.web]
        command = ["/nonexistent/web"]
        restart = "sometimes"
        restart_dely = "1s"

        [program.worker]
        stop_timeout = "forever"

        [pool.q]
        command = "/bin/sh"
        min_workers = -1
        """)
        #expect(problems.count == 8)
        #expect(problems.map(\.line) == [2, 3, 6, 7, 8, 10, 11, 15])
        #expect(problems.map(\.key) == [
            "supervisor.snapshot_interval", "supervisor.bogus", "program.web.command", "program.web.restart",
            "program.web.restart_dely", "program.worker", "program.worker.stop_timeout", "pool.q.min_workers",
        ])
    }

    @Test func linesAreRightAfterMultilineStringsAndArrays() {
        let dir = ConfigDir()
        let problems = dir.problems(#"""
        [program.a]
        command = [
          "/bin/sh",   # comment with "quotes" and [brackets]
          "-c",
          """
          echo "[program.fake]"
          bogus = 1
          """,
        ]
        env = { A = "x", B = 'y' }
        oops = 1
        [program.b]
        command = '''/bin/sh'''
        nope = 2
        """#)
        #expect(problems.map(\.line) == [11, 14])
        #expect(problems.map(\.key) == ["program.a.oops", "program.b.nope"])
    }

    @Test func dottedAndQuotedKeysGetTheirLines() {
        let dir = ConfigDir()
        let problems = dir.problems("""
        program.a.command = "/bin/sh"

        program . "a" . "bad key" = 1
        [program."x.y"]
        command = "/bin/sh"
        'literal key' = 2
        """)
        expectProblem(problems, line: 3, key: "program.a.\"bad key\"", contains: "unknown key")
        expectProblem(problems, line: 6, key: "program.\"x.y\".\"literal key\"", contains: "unknown key")
    }

    @Test func fileProblems() throws {
        let dir = ConfigDir()
        let missing = dir.path + "/nope.toml"
        #expect(throws: ConfigErrors.self) { try ConfigLoader.load(path: missing) }
        do { _ = try ConfigLoader.load(path: missing) } catch {
            #expect(error.problems.count == 1)
            #expect(error.problems[0].description == "\(missing): no such file")
        }
        do { _ = try ConfigLoader.load(path: dir.path) } catch {
            #expect(error.problems[0].message.contains("is a directory"))
        }
        let binary = dir.path + "/bin.toml"
        _ = FileManager.default.createFile(atPath: binary, contents: Data([0x61, 0x0A, 0x62, 0x00, 0x63]))
        do { _ = try ConfigLoader.load(path: binary) } catch {
            #expect(error.problems[0].line == 2)
            #expect(error.problems[0].message.contains("NUL byte"))
        }
        let latin1 = dir.path + "/latin1.toml"
        _ = FileManager.default.createFile(atPath: latin1, contents: Data(Array("# ok\n# ok\n# caf".utf8) + [0xE9, 0x0A]))
        do { _ = try ConfigLoader.load(path: latin1) } catch {
            #expect(error.problems[0].line == 3)
            #expect(error.problems[0].message.contains("UTF-8"))
        }
    }
}
