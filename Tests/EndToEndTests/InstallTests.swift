import Foundation
import Testing
import TestThreads

#if canImport(Glibc)
import Glibc
#endif

/// scripts/install.sh into a temp PREFIX, the installed unit under systemd-analyze, and the committed man
/// pages against freshly generated ones.
@Suite(.serialized, .blocking) struct InstallTests {
    static let systemdAnalyze = "/usr/bin/systemd-analyze"
    /// swift-argument-parser's generate-manual, beside the test bundle: `swift build --product generate-manual`
    /// names it generate-manual, the package plugin's own build generate-manual-tool.
    static var generateManual: String {
        let built = E2E.built("generate-manual")
        return FileManager.default.isExecutableFile(atPath: built) ? built : E2E.built("generate-manual-tool")
    }

    static func tempDir(_ label: String) throws -> String {
        let dir = NSTemporaryDirectory() + "histd-\(label)-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    static func install(into prefix: String) throws -> E2E.Output {
        try E2E.run("/bin/sh", [E2E.root.appendingPathComponent("scripts/install.sh").path],
                    env: ["PREFIX": prefix, "BUILD_DIR": E2E.root.appendingPathComponent(".build/debug").path], timeout: 120)
    }

    @Test func installsEverythingUnderPrefixAndTheBinariesRunFromAnEmptyFolder() throws {
        let dir = try Self.tempDir("install")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let prefix = dir + "/prefix"
        let r = try Self.install(into: prefix)
        #expect(r.status == 0, "\(r.stderr)")
        for file in ["bin/histd", "bin/histctl", "bin/histctl-fleet", "share/man/man1/histd.1", "share/man/man1/histctl.1", "share/man/man5/histd.toml.5",
                     "share/bash-completion/completions/histd", "share/bash-completion/completions/histctl",
                     "share/zsh/site-functions/_histctl", "share/fish/vendor_completions.d/histctl.fish",
                     "lib/systemd/system/histd.service", "etc/histd/histd.toml", "share/doc/histd/logrotate.histd"] {
            #expect(FileManager.default.fileExists(atPath: "\(prefix)/\(file)"), "\(file) not installed")
        }
        let bash = try String(contentsOfFile: prefix + "/share/bash-completion/completions/histctl", encoding: .utf8)
        #expect(bash.contains("postmortem") && bash.contains("complete"), "not a bash completion for histctl")
        let unit = try String(contentsOfFile: prefix + "/lib/systemd/system/histd.service", encoding: .utf8)
        #expect(unit.contains("ExecStart=\(prefix)/bin/histd run --config \(prefix)/etc/histd/histd.toml"))
        #expect(!unit.contains("@BINDIR@") && !unit.contains("@SYSCONFDIR@"))

        // From an empty folder, with nothing of the source tree on the way.
        let empty = dir + "/empty"
        mkdir(empty, 0o755)
        let check = try E2E.run(prefix + "/bin/histd", ["check", "--config", prefix + "/etc/histd/histd.toml"], cwd: empty)
        #expect(check.status == 0, "\(check.stderr)")
        let version = try E2E.run(prefix + "/bin/histctl", ["--version"], cwd: empty)
        #expect(version.status == 0 && !version.stdout.isEmpty)
        let help = try E2E.run(prefix + "/bin/histctl", ["sql", "--help"], cwd: empty)
        #expect(help.stdout.contains("--timeout"))
        // The installed binaries carry their SQL: a scan creates and migrates a database, histctl reads it.
        let scan = try E2E.run(prefix + "/bin/histd", ["scan", "--once", "--db", dir + "/scan.db"], cwd: empty)
        #expect(scan.status == 0, "\(scan.stderr)")
        let schema = try E2E.run(prefix + "/bin/histctl", ["sql", "--db", dir + "/scan.db", "--format", "csv",
                                                          "-- from an empty folder\nSELECT COUNT(*) AS n FROM event_kinds"], cwd: empty)
        #expect(schema.status == 0, "\(schema.stderr)")
        #expect(schema.stdout.hasPrefix("n\r\n"), "\(schema.stdout)")
        // A postgres:// --db goes to the installed histctl-fleet (same arguments): the central schema needs no
        // server, and only histctl-fleet has it.
        let central = try E2E.run(prefix + "/bin/histctl", ["sql", "--schema", "--db", "postgres://nobody@127.0.0.1:1/none"], cwd: empty)
        #expect(central.status == 0, "\(central.stderr)")
        #expect(central.stdout.contains("ship_cursor"), "not the central schema: \(central.stdout.prefix(300))")
        // Without it beside histctl, the fleet reports say what is missing; the local ones still run.
        let alone = dir + "/alone"
        mkdir(alone, 0o755)
        // Copied by cp, not in this process: a write fd of ours to the file, inherited by a child another
        // test forks meanwhile, makes exec fail with ETXTBSY ("Text file busy", seen once on CI).
        let copy = try E2E.run("/bin/cp", [prefix + "/bin/histctl", alone + "/histctl"])
        #expect(copy.status == 0, "\(copy.stderr)")
        chmod(alone + "/histctl", 0o755)
        let missing = try E2E.run(alone + "/histctl", ["crashes", "--db", "postgres://nobody@127.0.0.1:1/none"], cwd: empty)
        #expect(missing.status == 1, "\(missing.stdout)\(missing.stderr)")
        #expect(missing.stderr.contains("histctl-fleet") && missing.stderr.contains(alone + "/histctl-fleet"), "\(missing.stderr)")
        let local = try E2E.run(alone + "/histctl", ["crashes", "--db", dir + "/scan.db", "--format", "csv"], cwd: empty)
        #expect(local.status == 0, "\(local.stderr)")
        // A second install keeps an edited config.
        try "# mine\n".write(toFile: prefix + "/etc/histd/histd.toml", atomically: true, encoding: .utf8)
        #expect(try Self.install(into: prefix).status == 0)
        #expect(try String(contentsOfFile: prefix + "/etc/histd/histd.toml", encoding: .utf8) == "# mine\n")
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: InstallTests.systemdAnalyze), "systemd-analyze is not installed"))
    func installedUnitPassesSystemdAnalyzeVerify() throws {
        let dir = try Self.tempDir("unit")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let prefix = dir + "/prefix"
        #expect(try Self.install(into: prefix).status == 0)
        let unit = prefix + "/lib/systemd/system/histd.service"
        // MANPATH: verify also checks the Documentation= man pages, which live under the prefix.
        let r = try E2E.run(Self.systemdAnalyze, ["verify", unit], env: ["MANPATH": prefix + "/share/man"], timeout: 60)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.isEmpty, "\(r.stderr)")
        // verify exits 0 even for a bad value; what it could not use shows on stderr.
        for bad in ["Failed to parse", "Unknown key", "Unknown section", "not executable", "Invalid", "is not a valid"] {
            #expect(!r.stderr.contains(bad), "\(bad): \(r.stderr)")
        }
        // And the checker does catch a broken unit (so the test can fail).
        let broken = dir + "/broken.service"
        try (try String(contentsOfFile: unit, encoding: .utf8)).replacingOccurrences(of: "KillMode=mixed", with: "KillMode=sometimes")
            .write(toFile: broken, atomically: true, encoding: .utf8)
        let b = try E2E.run(Self.systemdAnalyze, ["verify", broken], timeout: 60)
        #expect(b.stderr.contains("Failed to parse"), "\(b.stderr)")
        for line in ["Type=notify", "KillMode=mixed", "Delegate=yes", "ExecReload=/bin/kill -HUP $MAINPID", "TimeoutStopSec=90"] {
            #expect(try String(contentsOfFile: unit, encoding: .utf8).contains(line), "\(line)")
        }
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: InstallTests.generateManual),
                   "swift-argument-parser's generate-manual is not built (swift build --product generate-manual; .ci/run does it)"))
    func committedManPagesAreCurrent() throws {
        let dir = try Self.tempDir("man")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = try E2E.run("/bin/sh", [E2E.root.appendingPathComponent("scripts/gen-man.sh").path, dir], env: ["BUILD_DIR": E2E.buildDirectory.path], timeout: 120)
        #expect(r.status == 0, "\(r.stderr)")
        for page in ["histd.1", "histctl.1", "histd.toml.5"] {
            let fresh = try String(contentsOfFile: "\(dir)/\(page)", encoding: .utf8)
            let committed = try String(contentsOfFile: E2E.root.appendingPathComponent("man/\(page)").path, encoding: .utf8)
            #expect(fresh == committed, "man/\(page) is stale: run scripts/gen-man.sh and commit man/")
        }
    }
}
