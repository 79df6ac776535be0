import Foundation
import Testing
@testable import HistConfig
import HistModel

/// `env_file` syntax, and the exec keys (`user`, `umask`, `rlimits`, ...) as `histd check` sees them.
@Suite struct ExecConfigTests {
    static func parse(_ text: String) -> [String: String]? {
        guard case .success(let pairs) = EnvFile.parse(text) else { return nil }
        var out: [String: String] = [:]
        for (k, v) in pairs { out[k] = v }
        return out
    }

    @Test(arguments: [
        ("A=1", ["A": "1"]),
        ("  A = spaced value  ", ["A": "spaced value"]),
        ("# comment\n; also\n\nB=2", ["B": "2"]),
        ("Q=\"a b \\\"c\\\" \\$HOME\"", ["Q": "a b \"c\" $HOME"]),
        ("S='x $y \\n'", ["S": "x $y \\n"]),
        ("C=one\\\ntwo", ["C": "onetwo"]),
        ("M=\"line1\nline2\"", ["M": "line1\nline2"]),
        ("export E=exported", ["E": "exported"]),
        ("D=first\nD=second", ["D": "second"]),
        ("EMPTY=", ["EMPTY": ""]),
        ("W=a\\ b", ["W": "a b"]),
    ])
    func envFileSyntax(text: String, expected: [String: String]) {
        #expect(Self.parse(text) == expected, "parsing \(text.debugDescription)")
    }

    @Test(arguments: [
        ("A=1\nnot an assignment", 2, "expected KEY=VALUE"),
        ("\n\n1BAD=x", 3, "is not a variable name"),
        ("OK=1\nQ=\"open", 2, "unterminated double quote"),
        ("BAD-NAME=1", 1, "is not a variable name"),
    ])
    func envFileProblemsNameTheLine(text: String, line: Int, message: String) {
        guard case .failure(let p) = EnvFile.parse(text) else { Issue.record("parsed \(text.debugDescription)"); return }
        #expect(p.line == line)
        #expect(p.message.contains(message), "\(p.message)")
    }

    @Test func envFileProblemIsReportedAtTheEnvFilesOwnLine() {
        let dir = ConfigDir()
        let envPath = dir.write("app.env", "GOOD=1\n# fine\noops\n")
        let problems = dir.problems("""
            [program.web]
            command = ["/bin/true"]
            env_file = "app.env"
            """)
        expectProblem(problems, line: 3, key: "program.web.env_file", contains: "expected KEY=VALUE")
        #expect(problems.first?.file == envPath, "\(problems)")
        #expect(problems.first?.description.hasPrefix("\(envPath):3: program.web.env_file: ") == true)
    }

    @Test func missingEnvFileIsAProblemUnlessDashed() throws {
        let dir = ConfigDir()
        let problems = dir.problems("""
            [program.web]
            command = ["/bin/true"]
            env_file = "nope.env"
            """)
        expectProblem(problems, line: 3, key: "program.web.env_file", contains: "no such file")
        let config = try dir.load("""
            [program.web]
            command = ["/bin/true"]
            env_file = "-nope.env"
            """)
        #expect(config.programs[0].exec.envFile.isEmpty)
    }

    @Test func execKeysLoad() throws {
        let dir = ConfigDir()
        dir.write("app.env", "FROM_FILE=yes\nA=file\n")
        let config = try dir.load("""
            [program.web]
            command = ["/bin/true"]
            env_file = "app.env"
            clear_env = true
            umask = "027"
            no_new_privileges = true
            rlimits = { nofile = 65536, core = "unlimited", nproc = 4096, memlock = "64M", as = 8589934592 }
            """)
        let exec = config.programs[0].exec
        #expect(exec.envFile == ["FROM_FILE": "yes", "A": "file"])
        #expect(exec.clearEnv)
        #expect(exec.umask == 0o027)
        #expect(exec.noNewPrivileges)
        #expect(exec.rlimits == [
            ResourceLimit(name: "nofile", value: 65536), ResourceLimit(name: "core", value: nil),
            ResourceLimit(name: "nproc", value: 4096), ResourceLimit(name: "memlock", value: 64 << 20),
            ResourceLimit(name: "as", value: 8 << 30),
        ])
        #expect(exec.identity == nil)
    }

    @Test func badExecValuesNameLineAndKey() {
        let dir = ConfigDir()
        let problems = dir.problems("""
            [program.web]
            command = ["/bin/true"]
            umask = "089"
            rlimits = { nofile = "lots", stack = 1, core = -1 }
            clear_env = "yes"
            """)
        expectProblem(problems, line: 3, key: "program.web.umask", contains: "expected an octal umask")
        expectProblem(problems, line: 4, key: "program.web.rlimits.nofile", contains: "expected a whole number or \"unlimited\"")
        expectProblem(problems, line: 4, key: "program.web.rlimits.stack", contains: "unknown key")
        expectProblem(problems, line: 4, key: "program.web.rlimits.core", contains: "out of range")
        expectProblem(problems, line: 5, key: "program.web.clear_env", contains: "expected true or false")
    }

    @Test(.enabled(if: geteuid() == 0, "user look-ups are only checked by a root histd"))
    func unknownUserAndGroupAreConfigErrors() {
        let dir = ConfigDir()
        let problems = dir.problems("""
            [program.web]
            command = ["/bin/true"]
            user = "no-such-user-histd"
            [program.api]
            command = ["/bin/true"]
            user = "nobody"
            group = "no-such-group-histd"
            [program.db]
            command = ["/bin/true"]
            user = "nobody"
            supplementary_groups = ["no-such-group-histd"]
            """)
        expectProblem(problems, line: 3, key: "program.web.user", contains: "unknown user \"no-such-user-histd\"")
        expectProblem(problems, line: 7, key: "program.api.group", contains: "unknown group \"no-such-group-histd\"")
        expectProblem(problems, line: 11, key: "program.db.supplementary_groups", contains: "unknown group")
    }

    @Test func aNonRootRunnerGetsAProblemForEveryIdentityKeyButReadersDoNot() throws {
        let text = """
            [program.web]
            command = ["/bin/true"]
            group = "nogroup"
            user = "nobody"
            """
        let dir = ConfigDir()
        let file = dir.write("histd.toml", text)
        do {
            _ = try ConfigLoader.load(bytes: Array(text.utf8), displayName: file, absolutePath: file, searchPath: "/usr/bin:/bin", runnerUID: 1000)
            Issue.record("a non-root runner accepted user/group")
        } catch {
            expectProblem(error.problems, line: 4, key: "program.web.user",
                          contains: "histd runs as uid 1000, not root, so it cannot run a program as another user or group; remove user, group or run histd as root")
        }
        // histctl (no runner) reads the same file.
        _ = try ConfigLoader.load(bytes: Array(text.utf8), displayName: file, absolutePath: file, searchPath: "/usr/bin:/bin")
    }

    @Test func supervisorGroupMustExist() throws {
        let dir = ConfigDir()
        let problems = dir.problems("""
            [supervisor]
            group = "no-such-group-histd"
            """)
        expectProblem(problems, line: 2, key: "supervisor.group", contains: "unknown group \"no-such-group-histd\"")
        let config = try dir.load("""
            [supervisor]
            group = "root"
            """)
        #expect(config.supervisor.group == "root")
        #expect(config.supervisor.groupID == 0)
    }

    @Test(.enabled(if: geteuid() == 0, "user look-ups are only checked by a root histd"))
    func nobodyResolvesWithItsGroups() throws {
        let dir = ConfigDir()
        let config = try dir.load("""
            [program.web]
            command = ["/bin/true"]
            user = "nobody"
            """)
        let id = try #require(config.programs[0].exec.identity)
        #expect(id.user == "nobody")
        #expect(id.uid == 65534)
        #expect(id.gid == 65534)
        #expect(id.groups == [65534])
    }
}
