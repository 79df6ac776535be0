import Foundation
import GRDB
import Testing

#if canImport(Glibc)
import Glibc
#endif

extension EndToEnd {
    /// `user`, `group`, `supplementary_groups`, `umask`, `env_file`, `clear_env`, `rlimits` and
    /// `no_new_privileges`, checked in /proc of the real child; and failures between fork and exec.
    @Suite struct Privilege {
        /// The pid of the live instance of `program`, once histd has recorded it.
        static func livePID(_ db: HistoryDB, _ program: String) -> Int32? {
            let pid = db.intOrZero("""
                SELECT i.pid FROM instances i JOIN programs p ON p.id = i.program_id
                WHERE p.name = ? AND i.ended_at IS NULL ORDER BY i.id DESC LIMIT 1
                """, [program])
            return pid > 0 ? Int32(pid) : nil
        }

        @Test(.enabled(if: E2E.isRoot, "switching users needs a root histd"))
        func programRunsAsItsUserWithGroupsLimitsUmaskAndEnvironment() throws {
            let ws = try Workspace("privuser")
            let user = try TestUser("priv")
            defer { ws.cleanup(); user.remove() }
            try ws.write("app.env", """
                # systemd EnvironmentFile syntax
                FROM_FILE=file value
                QUOTED="a \\"b\\" $c"
                OVERRIDDEN=from-file
                """)
            let config = try ws.write("priv.toml", """
                [supervisor]
                db = "h.db"
                log_dir = "logs"
                snapshot_interval = "off"
                scan_interval = "off"

                [program.asuser]
                command = ["/bin/sleep", "300"]
                user = "\(user.name)"
                umask = "027"
                clear_env = true
                env_file = "app.env"
                env = { OVERRIDDEN = "from-env", \(Workspace.markerKey) = "\(ws.markerValue)" }
                # Below histd's own hard limits: raising one needs CAP_SYS_RESOURCE, which this container lacks.
                rlimits = { nofile = 4096, core = "unlimited", nproc = 777, memlock = "4M", as = "4G" }
                no_new_privileges = true

                [program.asnobody]
                command = ["/bin/sleep", "300"]
                user = "nobody"
                env = { \(Workspace.markerKey) = "\(ws.markerValue)" }

                [program.onlyextra]
                command = ["/bin/sleep", "300"]
                user = "\(user.name)"
                group = "\(user.extraGroup)"
                supplementary_groups = []
                env = { \(Workspace.markerKey) = "\(ws.markerValue)" }
                """)
            let db = HistoryDB(path: ws.path("h.db"))
            let histd = try ws.runHistd(config: config)
            var pids: [String: Int32] = [:]
            let up = E2E.waitUntil(30) {
                for name in ["asuser", "onlyextra", "asnobody"] { pids[name] = Self.livePID(db, name) }
                return pids.count == 3
            }
            try #require(up, "both programs did not start:\n\(ws.log())")
            let pid = pids["asuser"]!, other = pids["onlyextra"]!, nobody = pids["asnobody"]!
            // user = "nobody": uid and gid 65534 (Debian's nobody/nogroup), and only nogroup as a group.
            let nobodyPW = getpwnam("nobody")!.pointee
            #expect(Procfs.statusField(nobody, "Uid") == Array(repeating: "\(nobodyPW.pw_uid)", count: 4).joined(separator: " "))
            #expect(Procfs.statusField(nobody, "Gid") == Array(repeating: "\(nobodyPW.pw_gid)", count: 4).joined(separator: " "))
            #expect(Procfs.statusField(nobody, "Groups") == "\(nobodyPW.pw_gid)")

            // Identity: uid and gid (real, effective, saved, fs) and initgroups' list (primary + extra).
            #expect(Procfs.statusField(pid, "Uid") == Array(repeating: "\(user.uid)", count: 4).joined(separator: " "))
            #expect(Procfs.statusField(pid, "Gid") == Array(repeating: "\(user.gid)", count: 4).joined(separator: " "))
            let groups = Set((Procfs.statusField(pid, "Groups") ?? "").split(separator: " ").compactMap { UInt32($0) })
            #expect(groups == [user.gid, user.extraGID])
            #expect(Procfs.statusField(pid, "Umask") == "0027")
            #expect(Procfs.statusField(pid, "NoNewPrivs") == "1")
            // group = extra, supplementary_groups = [] drops every supplementary group.
            #expect(Procfs.statusField(other, "Uid") == Array(repeating: "\(user.uid)", count: 4).joined(separator: " "))
            #expect(Procfs.statusField(other, "Gid") == Array(repeating: "\(user.extraGID)", count: 4).joined(separator: " "))
            #expect(Procfs.statusField(other, "Groups") == "")
            #expect(Procfs.statusField(other, "NoNewPrivs") == "0")

            // rlimits: soft and hard.
            #expect(Procfs.limit(pid, "Max open files")! == ("4096", "4096"))
            #expect(Procfs.limit(pid, "Max core file size")! == ("unlimited", "unlimited"))
            #expect(Procfs.limit(pid, "Max processes")! == ("777", "777"))
            #expect(Procfs.limit(pid, "Max locked memory")! == ("\(4 << 20)", "\(4 << 20)"))
            #expect(Procfs.limit(pid, "Max address space")! == ("\(Int64(4) << 30)", "\(Int64(4) << 30)"))

            // clear_env: nothing of histd's environment; the user's HOME/USER/LOGNAME, env_file, then env.
            let pw = getpwnam(user.name)!
            // HISTD_RUN / HISTD_UNIT are histd's ownership marker (docs/WATCHING.md), set after everything else.
            var environment = Procfs.environment(pid)
            #expect(environment.removeValue(forKey: "HISTD_UNIT") == "asuser")
            #expect(environment.removeValue(forKey: "HISTD_RUN") != nil)
            #expect(environment == [
                "FROM_FILE": "file value", "QUOTED": "a \"b\" $c", "OVERRIDDEN": "from-env",
                Workspace.markerKey: ws.markerValue,
                "USER": user.name, "LOGNAME": user.name, "HOME": String(cString: pw.pointee.pw_dir),
            ])
            #expect(histd.stop() == 0, "\(ws.log())")
        }

        @Test(.enabled(if: E2E.isRoot, "switching users needs a root histd"))
        func chdirFailureAsTheUserIsSpawnFailedWithItsStep() throws {
            let ws = try Workspace("privchdir")
            let user = try TestUser("chdir")
            defer { ws.cleanup(); user.remove() }
            // Root may enter it; the program's user may not: chdir happens after the switch.
            let closed = ws.path("closed")
            mkdir(closed, 0o700)
            let config = try ws.write("chdir.toml", """
                [supervisor]
                db = "h.db"
                log_dir = "logs"
                snapshot_interval = "off"
                scan_interval = "off"

                [program.locked]
                command = ["/bin/sleep", "300"]
                user = "\(user.name)"
                cwd = "\(closed)"
                restart_delay = "100ms"
                max_restarts = 2
                """)
            let db = HistoryDB(path: ws.path("h.db"))
            let histd = try ws.runHistd(config: config)
            let failed = E2E.waitUntil(30) { db.events("spawn_failed") >= 3 && db.events("gave_up") >= 1 }
            #expect(failed, "no 3 spawn failures and a give-up:\n\(ws.log())")
            #expect(histd.stop() == 0)
            let rows = try db.rows("SELECT value, json_extract(detail, '$.step') AS step FROM events WHERE kind = 9")
            #expect(!rows.isEmpty)
            for row in rows {
                #expect(row["value"] as Int64? == Int64(EACCES))
                #expect(row["step"] as String? == "chdir")
            }
            #expect(db.instances("locked") == 0, "nothing ran")
        }

        /// A limit the kernel refuses even to root (nofile above fs.nr_open): the failure happens in the
        /// child, between fork and exec, and reaches the crash and loop reports.
        @Test func rlimitFailureInTheChildReachesCrashesAndLoops() throws {
            let ws = try Workspace("privrlimit")
            defer { ws.cleanup() }
            let config = try ws.write("rlimit.toml", """
                [supervisor]
                db = "h.db"
                log_dir = "logs"
                snapshot_interval = "off"
                scan_interval = "off"

                [program.toomany]
                command = ["/bin/sleep", "300"]
                rlimits = { nofile = 2000000000 }
                restart_delay = "50ms"
                backoff_factor = 1
                max_restarts = 4
                """)
            let db = HistoryDB(path: ws.path("h.db"))
            let histd = try ws.runHistd(config: config)
            let failed = E2E.waitUntil(30) { db.events("gave_up") >= 1 }
            #expect(failed, "no give-up:\n\(ws.log())")
            #expect(histd.stop() == 0)
            let steps = try db.rows("SELECT value, json_extract(detail, '$.step') AS step FROM events WHERE kind = 9")
            #expect(steps.count == 5)
            #expect(steps.allSatisfy { $0["step"] as String? == "setrlimit(RLIMIT_NOFILE)" && $0["value"] as Int64? == Int64(EPERM) })
            #expect(ws.log().contains("setrlimit(RLIMIT_NOFILE)"), "\(ws.log())")

            let crashes = try E2E.run(E2E.histctl, ["crashes", "--db", ws.path("h.db"), "--since", "1h", "--format", "csv"])
            #expect(crashes.status == 0, "\(crashes.stderr)")
            let failures = crashes.stdout.split(whereSeparator: \.isNewline).filter { $0.contains("toomany") && $0.contains("spawn_failed") }
            #expect(failures.count == 5, "\(crashes.stdout)")
            #expect(failures.allSatisfy { $0.contains("setrlimit(RLIMIT_NOFILE)") }, "\(crashes.stdout)")
            let loops = try E2E.run(E2E.histctl, ["loops", "--db", ws.path("h.db"), "--since", "1h", "--format", "csv"])
            #expect(loops.status == 3 || loops.status == 0, "\(loops.stderr)")
            #expect(loops.stdout.contains("toomany"), "\(loops.stdout)")
        }

        @Test(.enabled(if: E2E.isRoot, "needs root to create a user and run histd check as that user"))
        func nonRootHistdRefusesUserKeys() throws {
            let ws = try Workspace("privnonroot")
            let user = try TestUser("nonroot")
            defer { ws.cleanup(); user.remove() }
            chmod(ws.dir, 0o755)
            let config = try ws.write("nonroot.toml", """
                [program.web]
                command = ["/bin/sleep", "300"]
                user = "nobody"
                """)
            let r = try E2E.run("/usr/bin/setpriv", ["--reuid=\(user.uid)", "--regid=\(user.gid)", "--clear-groups",
                                                     E2E.histd, "check", "--config", config])
            #expect(r.status == 2, "\(r.stdout)\n\(r.stderr)")
            #expect(r.stderr.contains("\(config):3: program.web.user: histd runs as uid \(user.uid), not root, so it cannot run a program as another user"), "\(r.stderr)")
            // histctl only reads the config's paths: the same user may use it for reports.
            let report = try E2E.run("/usr/bin/setpriv", ["--reuid=\(user.uid)", "--regid=\(user.gid)", "--clear-groups",
                                                          E2E.histctl, "crashes", "--config", config], cwd: "/")
            #expect(report.status != 2, "\(report.stderr)")
            #expect(!report.stderr.contains("not root"), "\(report.stderr)")
            // The same file is fine for a root histd.
            let asRoot = try E2E.run(E2E.histd, ["check", "--config", config])
            #expect(asRoot.status == 0, "\(asRoot.stderr)")
        }
    }
}
