import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

extension EndToEnd {
    /// A user who may only read (read_group) is refused an action with exit 77, and the refusal is
    /// recorded with who asked; a user in no group cannot reach the socket at all (exit 77 too, from
    /// the kernel's EACCES: the socket is 0660 in a 0750 folder).
    @Suite struct ControlPermissions {
        static let user = "histdctl\(getpid() % 100_000)"
        static let outsider = "histdout\(getpid() % 100_000)"
        static let group = "histdread\(getpid() % 100_000)"

        @Test(.enabled(if: E2E.isRoot, "needs root to create users"))
        func readerIsRefusedAnActionAndTheRefusalIsRecorded() throws {
            let ws = try Workspace("perm")
            defer {
                ws.cleanup()
                _ = try? E2E.run("/usr/sbin/userdel", [Self.user])
                _ = try? E2E.run("/usr/sbin/userdel", [Self.outsider])
                _ = try? E2E.run("/usr/sbin/groupdel", [Self.group])
            }
            #expect(try E2E.run("/usr/sbin/groupadd", [Self.group]).status == 0)
            #expect(try E2E.run("/usr/sbin/useradd", ["-M", "-s", "/usr/sbin/nologin", "-G", Self.group, Self.user]).status == 0)
            #expect(try E2E.run("/usr/sbin/useradd", ["-M", "-s", "/usr/sbin/nologin", Self.outsider]).status == 0)
            chmod(ws.dir, 0o755)
            let config = try ws.write("h.toml", ControlConfig.header(ws, extra: "read_group = \"\(Self.group)\"") + """
                [program.web]
                command = ["/bin/sleep", "300"]

                """)
            let histd = try ws.runHistd(config: config)
            let sock = ws.path("run/control.sock")
            #expect(E2E.waitUntil(20) { FileManager.default.fileExists(atPath: sock) }, "\(ws.log())")

            func asUser(_ name: String, _ args: [String]) throws -> E2E.Output {
                try E2E.run("/usr/bin/setpriv", ["--reuid", name, "--regid", name, "--init-groups", E2E.histctl] + args,
                            env: ["HISTD_SOCKET": sock], removeEnv: ["HISTD_DB"], timeout: 60)
            }
            // The reader may read live status...
            let status = try asUser(Self.user, ["status"])
            #expect(status.status == 0 && status.stdout.hasPrefix("live from histd"), "\(status.stdout)\(status.stderr)")
            // ...but not act.
            let refused = try asUser(Self.user, ["restart", "web"])
            #expect(refused.status == 77, "\(refused.stdout)\(refused.stderr)")
            #expect(refused.stderr.contains("refused: \(Self.user)"), "\(refused.stderr)")
            // Someone in no group does not get through the socket's permissions.
            let outsider = try asUser(Self.outsider, ["restart", "web"])
            #expect(outsider.status == 77 && outsider.stderr.contains("permission denied"), "\(outsider.stderr)")

            #expect(histd.stop() == 0, "\(ws.log())")
            let db = HistoryDB(path: ws.path("h.db"))
            let rows = try db.rows("SELECT action, programs, result, user, uid, comm FROM operator_actions")
            #expect(rows.count == 1, "\(rows)")
            #expect(rows.first?["result"] as String? == "refused")
            #expect(rows.first?["action"] as String? == "restart" && rows.first?["programs"] as String? == "[\"web\"]")
            #expect(rows.first?["user"] as String? == Self.user && rows.first?["comm"] as String? == "histctl")
            // Nothing happened to web: one instance, never stopped by the refused request.
            #expect(db.intOrZero("SELECT count(*) FROM instances i JOIN programs p ON p.id = i.program_id WHERE p.name = 'web'") == 1)
        }
    }
}
