import Foundation
import GRDB
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A small tmpfs the test mounts (root only) and always unmounts, to fill a real file system.
final class TmpfsMount {
    let dir: String
    private var mounted = false
    var filler: String { dir + "/.filler" }

    private var inodeFillers: [String] = []

    /// `inodes`: a cap on files (tmpfs nr_inodes), so that `fill` can also leave no room to create one.
    init(_ dir: String, size: String, inodes: Int? = nil) throws {
        self.dir = dir
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        guard mount("tmpfs", dir, "tmpfs", 0, "size=\(size),mode=0755" + (inodes.map { ",nr_inodes=\($0)" } ?? "")) == 0 else {
            throw E2EError("mount tmpfs on \(dir): \(String(cString: strerror(errno)))")
        }
        mounted = true
    }

    /// Writes a file until the file system is full (ENOSPC).
    func fill() throws {
        let fd = open(filler, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw E2EError("open \(filler): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let chunk = [UInt8](repeating: 0x2e, count: 4096)
        while chunk.withUnsafeBytes({ write(fd, $0.baseAddress, $0.count) }) > 0 {}
        var small: UInt8 = 0x2e
        while write(fd, &small, 1) > 0 {}
        guard errno == ENOSPC else { throw E2EError("filling \(dir): \(String(cString: strerror(errno)))") }
    }

    /// Creates empty files until no file can be created (only ends with a cap on inodes).
    func fillInodes() throws {
        while inodeFillers.count < 10_000 {
            let path = dir + "/.inode.\(inodeFillers.count)"
            let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
            if fd < 0 {
                guard errno == ENOSPC else { throw E2EError("creating \(path): \(String(cString: strerror(errno)))") }
                return
            }
            close(fd)
            inodeFillers.append(path)
        }
        throw E2EError("\(dir) has no cap on inodes")
    }

    func free() {
        unlink(filler)
        for path in inodeFillers { unlink(path) }
        inodeFillers.removeAll()
    }

    /// Lazily if something still holds a file there (the test's processes are killed first).
    func unmount() {
        guard mounted else { return }
        if umount2(dir, 0) != 0 { _ = umount2(dir, Int32(MNT_DETACH)) }
        mounted = false
    }

    deinit { unmount() }
}

extension EndToEnd {
    /// Storage faults never stop supervision: a database on a full file system at start, a log
    /// directory that fills up, a database deleted under histd, a database locked by another process.
    @Suite(.serialized) struct StorageFaults {
        /// A program that appends its pid to COUNT (outside the database's file system) and crashes.
        static func config(_ ws: Workspace, db: String, logDir: String = "logs", supervisorExtra: String = "",
                           extra: String = "") throws -> String {
            try ws.write("s.toml", """
                [supervisor]
                db = "\(db)"
                log_dir = "\(logDir)"
                snapshot_interval = "off"
                scan_interval = "off"
                \(supervisorExtra)

                [program.looper]
                command = ["/bin/sh", "-c", "echo $$ >> \(ws.path("COUNT")); sleep 0.1; exit 1"]
                restart_delay = "100ms"
                backoff_factor = 1
                max_restarts = 0
                \(extra)
                """)
        }

        static func lines(_ path: String) -> Int {
            ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").split(separator: "\n").count
        }

        static func occurrences(_ needle: String, in text: String) -> Int {
            text.components(separatedBy: needle).count - 1
        }

        @Test(.enabled(if: E2E.isRoot, "needs root to mount a tmpfs"))
        func fullFilesystemAtStart() throws {
            let ws = try Workspace("storage-full")
            defer { ws.cleanup() }
            // Room for the migrations and a run's WAL once the filler is gone (256k is not: the WAL fills it).
            // No room for bytes nor for a new file: the database cannot even be created until space returns.
            let fs = try TmpfsMount(ws.path("dbfs"), size: "4m", inodes: 16)
            defer { ws.killEverything(); fs.unmount() }
            try fs.fill()
            try fs.fillInodes()
            // The reader group applies to a database created late, too (once the disk has room).
            let readers = try #require(getgrnam("nogroup")?.pointee.gr_gid, "the nogroup group")
            let config = try Self.config(ws, db: "dbfs/h.db", supervisorExtra: "group = \"nogroup\"")
            let h = try ws.runHistd(config: config)
            let count = ws.path("COUNT")
            try #require(E2E.waitUntil(30) { Self.lines(count) >= 5 }, "programs must run without a database: \(ws.log())")
            #expect(h.isRunning, "\(ws.log())")
            Thread.sleep(forTimeInterval: 1)
            #expect(Self.occurrences("cannot be opened", in: ws.log()) == 1, "one line for the state, not one per retry: \(ws.log())")
            #expect(access(ws.path("dbfs/h.db"), F_OK) != 0, "the database file could not be created yet")

            fs.free()
            let db = HistoryDB(path: ws.path("dbfs/h.db"))
            try #require(E2E.waitUntil(30) { db.intOrZero("SELECT count(*) FROM storage_outages") >= 1 }, "\(ws.log())")
            let o = try db.rows("SELECT states, held, dropped, duration_ms FROM storage_outages")
            #expect(o.count == 1)
            #expect((o.first?["states"] as String?)?.hasPrefix("cannot_open") == true, "\(o)")
            #expect((o.first?["held"] as Int64? ?? 0) >= 5, "the starts and crashes waited in memory: \(o)")
            #expect(o.first?["dropped"] as Int64? == 0)
            #expect((o.first?["duration_ms"] as Int64? ?? 0) >= 1000)
            #expect(ws.log().contains("restore_state does not apply"), "the start says what it could not do: \(ws.log())")
            for suffix in ["", "-wal"] {
                var st = stat()
                #expect(stat(ws.path("dbfs/h.db" + suffix), &st) == 0 && st.st_gid == readers && st.st_mode & 0o007 == 0,
                        "h.db\(suffix): gid \(st.st_gid), mode \(String(st.st_mode & 0o777, radix: 8))")
            }
            #expect(h.stop() == 0, "\(ws.log())")
            // Nothing else lost: every start the program saw is recorded (one more when histd spawned a
            // last instance that was stopped before its shell ran).
            let seen = Self.lines(count), recorded = db.events("start")
            #expect(recorded >= seen && recorded <= seen + 1, "\(recorded) starts recorded, \(seen) seen")
            #expect(db.intOrZero("SELECT count(*) FROM recording_gaps") == 0)
            #expect(db.intOrZero("SELECT count(*) FROM runs WHERE stop_reason = 'clean'") == 1)
            #expect(Self.occurrences("recording again", in: ws.log()) == 1, "\(ws.log())")
        }

        /// The disk fills while histd runs (not at start): supervision goes on, what happens meanwhile
        /// waits in memory, and once space returns it is written with one storage_outage row.
        @Test(.enabled(if: E2E.isRoot, "needs root to mount a tmpfs"))
        func diskFillsWhileRunning() throws {
            let ws = try Workspace("storage-fills")
            defer { ws.cleanup() }
            let fs = try TmpfsMount(ws.path("dbfs"), size: "4m")
            defer { ws.killEverything(); fs.unmount() }
            let config = try Self.config(ws, db: "dbfs/h.db")
            let h = try ws.runHistd(config: config)
            let db = HistoryDB(path: ws.path("dbfs/h.db"))
            let count = ws.path("COUNT")
            try #require(E2E.waitUntil(30) { db.events("start") >= 3 }, "\(ws.log())")
            try fs.fill()
            // SQLite fails once it must grow the WAL or the file: wait for histd to say so.
            try #require(E2E.waitUntil(30) { ws.log().contains("the disk is full") }, "no disk-full line: \(ws.log())")
            let seenAtFull = Self.lines(count)
            try #require(E2E.waitUntil(30) { Self.lines(count) >= seenAtFull + 5 }, "programs must go on while the disk is full: \(ws.log())")
            #expect(h.isRunning, "\(ws.log())")
            #expect(Self.occurrences("the disk is full", in: ws.log()) == 1, "one line for the state, not one per retry: \(ws.log())")

            fs.free()
            try #require(E2E.waitUntil(30) { db.intOrZero("SELECT count(*) FROM storage_outages") >= 1 }, "\(ws.log())")
            let o = try db.rows("SELECT states, held, dropped FROM storage_outages")
            #expect(o.count == 1)
            #expect((o.first?["states"] as String?)?.contains("disk_full") == true, "\(o)")
            #expect((o.first?["held"] as Int64? ?? 0) >= 5, "the starts and crashes waited in memory: \(o)")
            #expect(o.first?["dropped"] as Int64? == 0)
            #expect(h.stop() == 0, "\(ws.log())")
            let seen = Self.lines(count), recorded = db.events("start")
            #expect(recorded >= seen && recorded <= seen + 1, "\(recorded) starts recorded, \(seen) seen")
            #expect(db.intOrZero("SELECT count(*) FROM recording_gaps") == 0)
            #expect(db.intOrZero("SELECT count(*) FROM runs WHERE stop_reason = 'clean'") == 1)
        }

        @Test(.enabled(if: E2E.isRoot, "needs root to mount a tmpfs"))
        func fullLogDirectory() throws {
            let ws = try Workspace("storage-logs")
            defer { ws.cleanup() }
            let fs = try TmpfsMount(ws.path("logfs"), size: "128k")
            defer { ws.killEverything(); fs.unmount() }
            let progress = ws.path("PROGRESS")
            let config = try ws.write("l.toml", """
                [supervisor]
                db = "h.db"
                log_dir = "logfs"
                snapshot_interval = "off"
                scan_interval = "off"

                [program.chatty]
                command = ["/bin/sh", "-c", "i=0; while :; do i=$((i+1)); echo \\"line $i $(printf '%0100d' 0)\\"; echo $i > \(progress).tmp && mv \(progress).tmp \(progress); sleep 0.01; done"]
                """)
            let h = try ws.runHistd(config: config)
            let out = ws.path("logfs/chatty.out")
            func progressNow() -> Int { Int(((try? String(contentsOfFile: progress, encoding: .utf8)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0 }
            try #require(E2E.waitUntil(30) { progressNow() > 20 }, "\(ws.log())")
            try fs.fill()
            let before = progressNow()
            let ticks0 = Self.cpuTicks(h.pid)
            Thread.sleep(forTimeInterval: 3)
            let ticks1 = Self.cpuTicks(h.pid)
            #expect(progressNow() > before + 20, "the program must keep running while its log cannot be written")
            #expect(h.isRunning)
            let db = HistoryDB(path: ws.path("h.db"))
            #expect(db.events("start") == 1, "the program was never restarted: \(ws.log())")
            #expect(Self.occurrences("chatty.out cannot be written", in: ws.log()) == 1, "reported once: \(ws.log())")
            // Not spinning: well under one core's worth of CPU (100 ticks/s) in 3 s of a full disk.
            #expect(ticks1 - ticks0 < 150, "histd used \(ticks1 - ticks0) ticks in 3 s")

            fs.free()
            let freedAt = progressNow()
            let resumed = E2E.waitUntil(20) {
                let text = (try? String(contentsOfFile: out, encoding: .utf8)) ?? ""
                // Lines start with their time (log_timestamps): the counter follows "line ".
                let numbers = text.split(separator: "\n").compactMap { l -> Int? in
                    guard let r = l.range(of: "line ") else { return nil }
                    return Int(l[r.upperBound...].prefix { $0.isNumber })
                }
                return (numbers.last ?? 0) > freedAt
            }
            #expect(resumed, "logging must resume once space is freed")
            #expect(E2E.waitUntil(10) { Self.occurrences("chatty.out is written again", in: ws.log()) == 1 }, "\(ws.log())")
            #expect(h.stop() == 0, "\(ws.log())")
        }

        static func cpuTicks(_ pid: Int32) -> Int {
            guard let s = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                  let close = s.lastIndex(of: ")") else { return 0 }
            let f = s[s.index(after: close)...].split(separator: " ")
            // Fields 14 and 15 (utime, stime) are the 12th and 13th after the comm.
            return (Int(f[11]) ?? 0) + (Int(f[12]) ?? 0)
        }

        @Test func deletedDatabaseIsRecreatedAndTheLossRecorded() throws {
            let ws = try Workspace("storage-deleted")
            defer { ws.cleanup() }
            let (h, path, db) = try Self.recordingToH(ws)
            for suffix in ["", "-wal", "-shm"] { unlink(path + suffix) }
            try #require(E2E.waitUntil(30) { db.intOrZero("SELECT count(*) FROM storage_outages") >= 1 }, "\(ws.log())")
            let o = try db.rows("SELECT states, lost_written, run_id FROM storage_outages")
            #expect(o.first?["states"] as String? == "deleted", "\(o)")
            #expect((o.first?["lost_written"] as Int64? ?? 0) >= 3, "\(o)")
            #expect(E2E.waitUntil(20) { db.events("start") >= 2 }, "supervision and recording go on in the new file")
            #expect(h.isRunning)
            #expect(h.stop() == 0, "\(ws.log())")
            #expect(db.intOrZero("SELECT count(*) FROM runs") == 1)
            #expect(db.intOrZero("SELECT count(*) FROM runs WHERE stop_reason = 'clean' AND id = ?", [o.first?["run_id"] as Int64? ?? -1]) == 1)
            #expect(Self.occurrences("was deleted while histd was writing it", in: ws.log()) == 1, "\(ws.log())")
            try Self.expectPostmortemNamesTheLoss(ws, db, "were lost: the file was deleted while histd was writing it")
        }

        /// A rotation by hand, `mv h.db h.db.old`: the old file keeps everything histd wrote to it (its log is
        /// checkpointed into it, since the -wal stays behind under the old name), the loss is recorded as
        /// `moved`, not as facts lost, and the new file's postmortem says where they are.
        @Test func databaseMovedAwayKeepsWhatHistdWroteToIt() throws {
            let ws = try Workspace("storage-moved")
            defer { ws.cleanup() }
            let (h, path, db) = try Self.recordingToH(ws)
            try #require(rename(path, ws.path("h.db.old")) == 0)
            try #require(E2E.waitUntil(30) { db.intOrZero("SELECT count(*) FROM storage_outages") >= 1 }, "\(ws.log())")
            let o = try db.rows("SELECT states, lost_written FROM storage_outages")
            #expect(o.first?["states"] as String? == "moved", "\(o) \(ws.log())")
            #expect(E2E.waitUntil(20) { db.events("start") >= 2 }, "supervision and recording go on in the new file")
            #expect(h.stop() == 0, "\(ws.log())")
            #expect(Self.occurrences("was moved away while histd was writing it (it is still on disk as \(ws.path("h.db.old")), with the", in: ws.log()) == 1, "\(ws.log())")
            // The old file alone (no -wal of its own: its log stayed under the old name and was checkpointed
            // into it) holds the starts written before the move.
            #expect(!FileManager.default.fileExists(atPath: ws.path("h.db.old-wal")))
            let old = HistoryDB(path: ws.path("h.db.old"))
            #expect(old.events("start") >= 3)
            try Self.expectPostmortemNamesTheLoss(ws, db, "are in the file it was moved to, not in this one (storage_outage: moved)")
        }

        /// A histd recording to `h.db` in `ws`, once three starts are in it: the state each file-change test
        /// begins from.
        static func recordingToH(_ ws: Workspace) throws -> (HistdProcess, String, HistoryDB) {
            let h = try ws.runHistd(config: try config(ws, db: "h.db"))
            let path = ws.path("h.db")
            let db = HistoryDB(path: path)
            try #require(E2E.waitUntil(30) { db.events("start") >= 3 }, "\(ws.log())")
            return (h, path, db)
        }

        /// The postmortem of the new file says that what histd wrote before the loss is not in it: from the
        /// run's start (the first file's facts) to the loss, with the count. Without it, a window before the
        /// loss shows a run with no crashes, as if nothing had happened.
        static func expectPostmortemNamesTheLoss(_ ws: Workspace, _ db: HistoryDB, _ phrase: String) throws {
            let o = try #require(try db.rows("SELECT o.from_ms, o.lost_written, r.started_at FROM storage_outages o JOIN runs r ON r.id = o.run_id").first)
            let out = try E2E.run(E2E.histctl, ["postmortem", "--db", ws.path("h.db"), "--since", "1h", "--format", "json"])
            #expect(out.status == 0, "\(out.stderr)")
            let json = try #require(try JSONSerialization.jsonObject(with: Data(out.stdout.utf8)) as? [String: Any])
            let gaps = (json["record_incomplete"] as? [[String: Any]]) ?? []
            let lost = gaps.filter { ($0["reason"] as? String)?.contains(phrase) == true }
            #expect(lost.count == 1, "\(gaps)")
            let written = o["lost_written"] as Int64? ?? -1
            #expect((lost.first?["reason"] as? String)?.hasPrefix("the \(written) records histd wrote") == true, "\(lost)")
            // The span: the run's start to the loss (times as the JSON gives them: ISO 8601 UTC).
            let f = ISO8601DateFormatter()
            f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
            let ms = { (v: Any?) -> Int64? in (v as? String).flatMap { f.date(from: $0) }.map { Int64(($0.timeIntervalSince1970 * 1000).rounded()) } }
            let started = try #require(o["started_at"] as Int64?), lostAt = try #require(o["from_ms"] as Int64?)
            #expect(started < lostAt)
            #expect(ms(lost.first?["from"]) == started, "\(lost) \(o)")
            #expect(ms(lost.first?["until"]) == lostAt, "\(lost) \(o)")
        }

        /// A plain `mv other.db h.db` leaves the lost file's `-wal` and `-shm` beside the new file, and a
        /// reader that still has the lost file open keeps them in use. SQLite would open the new file
        /// through them (before the fix: a disk I/O error, so a `cannot_open` outage on top of the
        /// replacement). histd takes them off the path before it opens the new file: it opens at once, and
        /// holds this run once.
        @Test func databaseReplacedByARenameIsReopenedWithoutTheLostLog() throws {
            let ws = try Workspace("storage-replaced")
            defer { ws.cleanup() }
            let (h, path, db) = try Self.recordingToH(ws)
            // A reader with the file open across the rename (a dashboard, an operator's histctl): the lost
            // file is then not histd's alone, so closing it cannot remove its log.
            var readOnly = Configuration()
            readOnly.readonly = true
            let reader = try DatabaseQueue(path: path, configuration: readOnly)
            defer { try? reader.close() }
            #expect(try reader.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM runs") } == 1)
            let other = ws.path("other.db")
            FileManager.default.createFile(atPath: other, contents: nil)
            try #require(rename(other, path) == 0)
            try #require(E2E.waitUntil(30) { db.intOrZero("SELECT count(*) FROM storage_outages") >= 1 }, "\(ws.log())")
            let o = try db.rows("SELECT states, lost_written, run_id FROM storage_outages")
            #expect(o.first?["states"] as String? == "replaced", "\(o) \(ws.log())")
            #expect(E2E.waitUntil(20) { db.events("start") >= 2 }, "supervision and recording go on in the new file")
            #expect(h.isRunning)
            #expect(h.stop() == 0, "\(ws.log())")
            #expect(db.intOrZero("SELECT count(*) FROM runs") == 1, "\((try? db.rows("SELECT * FROM runs")) ?? [])")
            #expect(db.intOrZero("SELECT count(*) FROM runs WHERE stop_reason = 'clean' AND id = ?", [o.first?["run_id"] as Int64? ?? -1]) == 1)
            #expect(Self.occurrences("was replaced by another file while histd was writing it", in: ws.log()) == 1, "\(ws.log())")
            try Self.expectPostmortemNamesTheLoss(ws, db, "were lost: the file was replaced by another file")
        }

        /// `histd check` names the database and says why it cannot be used (exit 3), changing nothing.
        @Test func checkReportsAnUnusableDatabase() throws {
            let ws = try Workspace("storage-check")
            defer { ws.cleanup() }
            try ws.write("blocker", "not a folder\n")
            let config = try Self.config(ws, db: "blocker/h.db")
            let r = try E2E.run(E2E.histd, ["check", "--config", config], cwd: ws.dir)
            #expect(r.status == 3, "\(r.stderr)")
            #expect(r.stderr.contains("history database \(ws.path("blocker/h.db"))") && r.stderr.contains("Not a directory"), "\(r.stderr)")
            #expect(!FileManager.default.fileExists(atPath: ws.path("blocker/h.db")))

            // Another application's database: refused, and left byte-identical.
            let foreign = ws.path("other.db")
            let q = try DatabaseQueue(path: foreign)
            try q.write { try $0.execute(sql: "CREATE TABLE notes (body TEXT); INSERT INTO notes VALUES ('mine')") }
            try q.close()
            let before = try Data(contentsOf: URL(fileURLWithPath: foreign))
            let r2 = try E2E.run(E2E.histd, ["check", "--config", config, "--db", foreign], cwd: ws.dir)
            #expect(r2.status == 3, "\(r2.stderr)")
            #expect(r2.stderr.contains("not a histd history database"), "\(r2.stderr)")
            #expect(try Data(contentsOf: URL(fileURLWithPath: foreign)) == before)

            // A usable one: exit 0, and a missing file is not created by the check.
            let r3 = try E2E.run(E2E.histd, ["check", "--config", config, "--db", ws.path("new/h.db")], cwd: ws.dir)
            #expect(r3.status == 0, "\(r3.stderr)")
            #expect(!FileManager.default.fileExists(atPath: ws.path("new")))
        }

        @Test func lockedDatabaseLeavesSupervisionAlone() throws {
            let ws = try Workspace("storage-locked")
            defer { ws.cleanup() }
            let config = try Self.config(ws, db: "h.db")
            let h = try ws.runHistd(config: config)
            let db = HistoryDB(path: ws.path("h.db"))
            let count = ws.path("COUNT")
            try #require(E2E.waitUntil(30) { db.events("start") >= 3 }, "\(ws.log())")
            // Restarts in the 3 s before the lock and in the 7 s it is held: the same sitting, compared.
            let a = Self.lines(count)
            Thread.sleep(forTimeInterval: 3)
            let b = Self.lines(count)
            let locker = try DatabaseQueue(path: ws.path("h.db"))
            defer { try? locker.close() }
            try locker.inDatabase { conn in
                try #require(E2E.waitUntil(10) { (try? conn.execute(sql: "BEGIN IMMEDIATE")) != nil })
                Thread.sleep(forTimeInterval: 7)
                try conn.execute(sql: "COMMIT")
            }
            let c = Self.lines(count)
            let before = Double(b - a) / 3, during = Double(c - b) / 7
            #expect(during >= before * 0.5, "restarts/s \(before) before the lock, \(during) while it was held")
            #expect(h.isRunning)
            try #require(E2E.waitUntil(30) { db.intOrZero("SELECT count(*) FROM storage_outages") >= 1 }, "\(ws.log())")
            let states: String? = try db.rows("SELECT states FROM storage_outages").first?["states"]
            #expect(states == "busy")
            #expect(h.stop() == 0, "\(ws.log())")
            let seen = Self.lines(count), recorded = db.events("start")
            #expect(recorded >= seen && recorded <= seen + 1, "\(recorded) starts recorded, \(seen) seen")
            #expect(Self.occurrences("is locked by another process", in: ws.log()) == 1, "\(ws.log())")
            #expect(Self.occurrences("recording again", in: ws.log()) == 1, "\(ws.log())")
        }
    }
}
