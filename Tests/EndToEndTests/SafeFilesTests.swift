import Foundation
import GRDB
import Testing

#if canImport(Glibc)
import Glibc
#endif

extension EndToEnd {
    /// A root histd and files other users can influence: planted links, unsafe folders, modes, the reader group.
    @Suite struct SafeFiles {
        static func config(_ ws: Workspace, extra: String = "") throws -> String {
            try ws.write("safe.toml", """
                [supervisor]
                db = "h.db"
                log_dir = "logs"
                snapshot_interval = "off"
                scan_interval = "off"
                \(extra)

                [program.web]
                command = ["/bin/sh", "-c", "echo out-line; echo SECRET_TOKEN=hunter2 >&2; exec sleep 300"]
                """)
        }

        static func mode(_ path: String) -> mode_t? {
            var st = stat()
            return lstat(path, &st) == 0 ? st.st_mode & 0o7777 : nil
        }

        static func gid(_ path: String) -> gid_t? {
            var st = stat()
            return lstat(path, &st) == 0 ? st.st_gid : nil
        }

        @Test(.enabled(if: E2E.isRoot, "the link attacks are about a root histd"),
              arguments: ["h.db", "h.db-wal", "h.db-shm", "logs/web.out", "logs/web.err", "dangling:logs/web.err"])
        func plantedSymlinkIsRefusedAndTheVictimIsUnchanged(planted: String) throws {
            let ws = try Workspace("symlink")
            defer { ws.cleanup() }
            let dangling = planted.hasPrefix("dangling:")
            let name = dangling ? String(planted.dropFirst(9)) : planted
            let victim = ws.path("victim")
            if !dangling {
                try "root's original bytes\n".write(toFile: victim, atomically: false, encoding: .utf8)
                chmod(victim, 0o600)
            }
            mkdir(ws.path("logs"), 0o750)
            #expect(symlink(victim, ws.path(name)) == 0)
            let config = try Self.config(ws)
            let histd = try ws.runHistd(config: config)
            if name.hasPrefix("h.db") {
                // The database (or its -wal/-shm) is a link: histd refuses to start, naming it.
                #expect(histd.waitForExit(timeout: 30), "histd did not exit:\n\(ws.log())")
                #expect(histd.exitCode == 1)
                #expect(ws.log().contains("\(ws.path(name)) is a symbolic link; histd never follows links"), "\(ws.log())")
            } else {
                // A log file is a link: the program runs, its output to that file is dropped, histd says why.
                let said = E2E.waitUntil(30) { ws.log().contains("web: log file \(ws.path(name)) is a symbolic link") }
                #expect(said, "\(ws.log())")
                let db = HistoryDB(path: ws.path("h.db"))
                #expect(E2E.waitUntil(30) { db.events("start") >= 1 }, "\(ws.log())")
                let other = name.hasSuffix(".out") ? "logs/web.err" : "logs/web.out"
                #expect(E2E.waitUntil(30) { ((try? String(contentsOfFile: ws.path(other), encoding: .utf8)) ?? "").count > 0 },
                        "the other log still works")
                #expect(histd.stop() == 0)
            }
            if dangling {
                #expect(access(victim, F_OK) != 0, "the dangling link's target was created")
            } else {
                #expect(try String(contentsOfFile: victim, encoding: .utf8) == "root's original bytes\n")
                #expect(Self.mode(victim) == 0o600)
            }
            var st = stat()
            #expect(lstat(ws.path(name), &st) == 0 && st.st_mode & S_IFMT == S_IFLNK, "the link itself is left alone")
        }

        @Test(.enabled(if: E2E.isRoot, "needs root to create a user"))
        func filesAre0640FoldersAre0750AndTheReaderGroupReadsThem() throws {
            let ws = try Workspace("modes")
            let reader = try TestUser("reader")
            let outsider = try TestUser("outside")
            defer { ws.cleanup(); reader.remove(); outsider.remove() }
            let config = try Self.config(ws, extra: "group = \"\(reader.extraGroup)\"")
            let histd = try ws.runHistd(config: config)
            let db = HistoryDB(path: ws.path("h.db"))
            let ready = E2E.waitUntil(30) {
                db.events("start") >= 1 && ((try? String(contentsOfFile: ws.path("logs/web.err"), encoding: .utf8)) ?? "").contains("SECRET")
            }
            try #require(ready, "\(ws.log())")
            for file in ["h.db", "h.db-wal", "h.db-shm", "logs/web.out", "logs/web.err"] {
                #expect(Self.mode(ws.path(file)) == 0o640, "\(file) mode \(String(Self.mode(ws.path(file)) ?? 0, radix: 8))")
                #expect(Self.gid(ws.path(file)) == reader.extraGID, "\(file) group")
            }
            #expect(Self.mode(ws.path("logs")) == 0o750)
            #expect(Self.gid(ws.path("logs")) == reader.extraGID)

            // A member of the group reads the history and the logs without sudo, while histd writes.
            let member = ["--reuid=\(reader.uid)", "--regid=\(reader.gid)", "--groups=\(reader.extraGID)"]
            let status = try E2E.run("/usr/bin/setpriv", member + [E2E.histctl, "status", "--db", ws.path("h.db"), "--format", "csv"], cwd: "/")
            #expect(status.status == 0, "\(status.stderr)")
            #expect(status.stdout.contains("web"), "\(status.stdout)")
            let log = try E2E.run("/usr/bin/setpriv", member + ["/bin/cat", ws.path("logs/web.err")], cwd: "/")
            #expect(log.status == 0 && log.stdout.contains("SECRET_TOKEN"), "\(log.stderr)")
            // Someone outside it reads neither: the secret on stderr stays private.
            let outside = ["--reuid=\(outsider.uid)", "--regid=\(outsider.gid)", "--clear-groups"]
            let denied = try E2E.run("/usr/bin/setpriv", outside + ["/bin/cat", ws.path("logs/web.err")], cwd: "/")
            #expect(denied.status != 0)
            #expect(!denied.stdout.contains("SECRET_TOKEN"))
            let deniedDB = try E2E.run("/usr/bin/setpriv", outside + [E2E.histctl, "status", "--db", ws.path("h.db")], cwd: "/")
            #expect(deniedDB.status != 0)
            #expect(histd.stop() == 0)
        }

        @Test(.enabled(if: E2E.isRoot, "needs root to create a user"))
        func folderAnotherUserControlsIsRefusedWithTheFix() throws {
            let ws = try Workspace("unsafedir")
            let user = try TestUser("owner")
            defer { ws.cleanup(); user.remove() }
            mkdir(ws.path("logs"), 0o755)
            chown(ws.path("logs"), user.uid, user.gid)
            let config = try Self.config(ws)
            let histd = try ws.runHistd(config: config)
            #expect(histd.waitForExit(timeout: 30))
            #expect(histd.exitCode == 1)
            #expect(ws.log().contains("log_dir \(ws.path("logs")) is not safe for a root histd: \(ws.path("logs")) is owned by \(user.name)"), "\(ws.log())")
            #expect(ws.log().contains("Fix: chown root \(ws.path("logs"))"), "\(ws.log())")
            #expect(access(ws.path("h.db"), F_OK) != 0, "nothing was created")

            // A group-writable database folder (no sticky bit) is refused too.
            chown(ws.path("logs"), 0, 0)
            mkdir(ws.path("data"), 0o770)
            chmod(ws.path("data"), 0o770)
            let config2 = try ws.write("safe2.toml", (try String(contentsOfFile: config, encoding: .utf8)).replacingOccurrences(of: "db = \"h.db\"", with: "db = \"data/h.db\""))
            let second = try ws.runHistd(config: config2, logName: "second.log")
            #expect(second.waitForExit(timeout: 30))
            #expect(second.exitCode == 1)
            #expect(ws.log("second.log").contains("the database folder \(ws.path("data")) is not safe for a root histd: \(ws.path("data")) is writable by its group"), "\(ws.log("second.log"))")
            #expect(ws.log("second.log").contains("Fix: chmod go-w \(ws.path("data"))"))
        }
    }
}
