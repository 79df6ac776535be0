import Foundation
import GRDB
import Testing

#if canImport(Glibc)
import Glibc
#endif

extension EndToEnd {
    /// Memory limits enforced by a real histd: `max_memory_mb` (histd's sampler) and cgroup `memory_max` (the kernel).
    @Suite struct Limits {
        static let leak = "import time\nb = []\nwhile True:\n    b.append(bytearray(b'x' * (8 << 20)))\n    time.sleep(0.05)\n"

        @Test(.enabled(if: E2E.hasPython, "python3 is not available"))
        func leakingProgramIsBreachedKilledClassifiedLimitAndRestarted() throws {
            let ws = try Workspace("leak")
            defer { ws.cleanup() }
            let script = try ws.write("leak.py", Self.leak)
            let config = try ws.write("leak.toml", """
                [supervisor]
                db = "h.db"
                log_dir = "logs"
                snapshot_interval = "100ms"
                scan_interval = "off"

                [program.leaky]
                command = ["/usr/bin/env", "python3", "\(script)"]
                restart = "always"
                restart_delay = "200ms"
                backoff_factor = 2
                max_backoff = "10s"
                max_restarts = 0
                stop_timeout = "1s"
                max_memory_mb = 64
                """)
            let db = HistoryDB(path: ws.path("h.db"))
            let histd = try ws.runHistd(config: config)
            let ok = E2E.waitUntil(30) { db.instances("leaky", class: "limit") >= 2 && db.instances("leaky") >= 3 }
            #expect(ok, "no two limit kills and a third start in 30 s:\n\(ws.log())")
            #expect(histd.stop() == 0)

            let breaches = try db.rows("SELECT instance_id, limit_name, value, threshold, action, program FROM limit_breaches ORDER BY ts")
            #expect(breaches.count >= 2)
            for b in breaches {
                #expect(b["limit_name"] as String? == "max_memory_mb")
                #expect(b["threshold"] as Int64? == 64 << 20)
                #expect((b["value"] as Int64? ?? 0) > 64 << 20, "observed value must exceed the threshold")
                #expect(b["action"] as String? == "stop")
                #expect(b["program"] as String? == "leaky")
            }
            // Each breached instance is a limit kill, never a crash; no instance of it is a crash at all.
            let breachedIDs = breaches.compactMap { $0["instance_id"] as Int64? }
            #expect(breachedIDs.count == breaches.count, "a breach without its instance")
            for id in breachedIDs {
                let cls = try db.read { try String.fetchOne($0, sql: "SELECT class FROM instances WHERE id = ?", arguments: [id]) }
                // The last one may have been ended by the shutdown before the stop completed.
                if id != breachedIDs.last { #expect(cls == "limit", "instance \(id) class \(cls ?? "nil")") }
            }
            #expect(db.instances("leaky", class: "crash") == 0)
            // Restarted under backoff: delays 200, 400, ... after the limit kills.
            let delays = try db.rows("""
                SELECT value FROM events WHERE kind = (SELECT id FROM event_kinds WHERE name = 'restart_scheduled') ORDER BY id
                """).map { $0["value"] as Int64? ?? -1 }
            #expect(Array(delays.prefix(2)) == [200, 400])
            #expect(db.events("stop_requested") >= 2)

            let r = try E2E.run(E2E.histctl, ["breaches", "--db", db.path, "--format", "json", "--since", "1h"])
            #expect(r.status == 0, "histctl breaches: \(r.stderr)")
            let json = try #require(try JSONSerialization.jsonObject(with: r.stdoutData) as? [[String: Any]])
            #expect(json.count == breaches.count)
            #expect(json.allSatisfy { $0["program"] as? String == "leaky" })
            #expect(json.contains { row in row.values.contains { ($0 as? String) == "max_memory_mb" } }, "\(json)")
        }

        @Test(.enabled(if: E2E.isRoot && E2E.hasPython && Self.memoryV1Available(), "needs root, python3 and the cgroup v1 memory controller"))
        func cgroupMemoryMaxOOMKillIsRecordedAndTheGroupIsRemoved() throws {
            _ = try Self.oomKillScenario()
        }

        /// The same OOM kill under cgroup v2 (`memory.max`, `memory.events` oom_kill, `cgroup.kill`). This
        /// machine's v2 mount offers no memory controller, so here it shows as skipped. To run it, use a
        /// machine (or VM) booted with the unified hierarchy only, e.g. Debian 12 / Ubuntu 22.04 defaults
        /// (`mount | grep cgroup2` shows /sys/fs/cgroup and its cgroup.controllers lists memory), and as root:
        /// `swift build --build-tests && swift test --skip-build --filter cgroupV2MemoryMax`.
        /// If histd runs in a systemd unit, give it `Delegate=yes` so its group may enable memory below it.
        @Test(.enabled(if: E2E.isRoot && E2E.hasPython && Self.memoryV2Mount() != nil,
                       "needs root, python3 and a cgroup v2 mount offering the memory controller"))
        func cgroupV2MemoryMaxOOMKillIsRecordedAndTheGroupIsRemoved() throws {
            let groupDirs = try Self.oomKillScenario()
            let v2 = try #require(Self.memoryV2Mount())
            #expect(!groupDirs.isEmpty && groupDirs.allSatisfy { $0.hasPrefix(v2 + "/") }, "groups not under the v2 mount \(v2): \(groupDirs)")
        }

        /// histd runs a program with `memory_max = "32M"` that allocates 100 MB; the kernel kills it. Returns
        /// the cgroup directories histd created for it (gone again once histd stopped). Samples every 2 s: the
        /// hog dies long before any sample sees it alive, and its breach must still name its instance (CI once
        /// recorded one without, when the kill beat the first 100 ms sample).
        static func oomKillScenario() throws -> [String] {
            let ws = try Workspace("oom")
            defer { ws.cleanup() }
            let script = try ws.write("hog.py", "import time\nb = [bytes([1]) * (1 << 20) for _ in range(100)]\ntime.sleep(60)\n")
            let config = try ws.write("oom.toml", """
                [supervisor]
                db = "h.db"
                log_dir = "logs"
                snapshot_interval = "2s"
                scan_interval = "off"

                [program.hog]
                command = ["/usr/bin/env", "python3", "\(script)"]
                restart = "on-failure"
                restart_delay = "5s"
                stop_timeout = "1s"
                cgroup = { memory_max = "32M" }
                """)
            let db = HistoryDB(path: ws.path("h.db"))
            let histd = try ws.runHistd(config: config)

            // While it runs, its process is in a group below "histd-<pid>".
            var groupDirs: [String] = []
            E2E.waitUntil(10) {
                let dirs = Self.histdGroups(histdPID: histd.pid)
                if !dirs.isEmpty { groupDirs = dirs }
                return !dirs.isEmpty
            }
            #expect(!groupDirs.isEmpty, "no cgroup named histd-\(histd.pid) appeared:\n\(ws.log())")
            let ok = E2E.waitUntil(20) {
                db.intOrZero("SELECT count(*) FROM limit_breaches WHERE action = 'oom_kill'") >= 1 && db.instances("hog") >= 1
                    && db.intOrZero("SELECT count(*) FROM instances WHERE ended_at IS NOT NULL") >= 1
            }
            #expect(ok, "no OOM kill recorded in 20 s:\n\(ws.log())")
            #expect(histd.stop() == 0)

            let b = try db.rows("SELECT limit_name, threshold, action, program, instance_id, value FROM limit_breaches")
            #expect(b.count >= 1)
            #expect(b.first?["limit_name"] as String? == "cgroup_memory")
            #expect(b.first?["threshold"] as Int64? == 32 << 20)
            #expect(b.first?["program"] as String? == "hog")
            #expect(b.first?["instance_id"] as Int64? != nil)
            // The kernel's kill is SIGKILL.
            let first = try db.rows("SELECT signal, class FROM instances ORDER BY id LIMIT 1")
            #expect(first.first?["signal"] as Int32? == SIGKILL)
            // The kernel enforced a limit histd set: a limit end, not a crash.
            #expect(first.first?["class"] as String? == "limit")
            // After shutdown the program's group and histd's parent group are gone.
            for dir in groupDirs { #expect(!FileManager.default.fileExists(atPath: dir), "\(dir) is still there") }
            #expect(Self.histdGroups(histdPID: histd.pid).isEmpty)
            return groupDirs
        }

        /// The mount point of a cgroup2 hierarchy whose root offers the memory controller, or nil.
        static func memoryV2Mount() -> String? {
            guard let mounts = try? String(contentsOfFile: "/proc/self/mounts", encoding: .utf8) else { return nil }
            for line in mounts.split(separator: "\n") {
                let f = line.split(separator: " ")
                guard f.count > 2, f[2] == "cgroup2" else { continue }
                let point = String(f[1])
                let offered = (try? String(contentsOfFile: point + "/cgroup.controllers", encoding: .utf8)) ?? ""
                if offered.split(whereSeparator: \.isWhitespace).contains("memory") { return point }
            }
            return nil
        }

        static func memoryV1Available() -> Bool {
            FileManager.default.fileExists(atPath: "/sys/fs/cgroup/memory/memory.limit_in_bytes")
                || FileManager.default.fileExists(atPath: "/sys/fs/cgroup/memory/cgroup.procs")
        }

        /// Directories named histd-<pid> (and their program groups) in the v1 memory and pids hierarchies
        /// and the v2 mount, searched a few levels deep.
        static func histdGroups(histdPID: Int32) -> [String] {
            var found: [String] = []
            func walk(_ dir: String, depth: Int) {
                guard depth < 5, let names = try? FileManager.default.contentsOfDirectory(atPath: dir) else { return }
                for n in names {
                    let p = dir + "/" + n
                    var isDir: ObjCBool = false
                    guard FileManager.default.fileExists(atPath: p, isDirectory: &isDir), isDir.boolValue else { continue }
                    if n == "histd-\(histdPID)" {
                        found.append(p)
                        if let subs = try? FileManager.default.contentsOfDirectory(atPath: p) {
                            for s in subs {
                                var sub: ObjCBool = false
                                if FileManager.default.fileExists(atPath: p + "/" + s, isDirectory: &sub), sub.boolValue { found.append(p + "/" + s) }
                            }
                        }
                    } else {
                        walk(p, depth: depth + 1)
                    }
                }
            }
            var roots = ["/sys/fs/cgroup/memory", "/sys/fs/cgroup/pids", "/sys/fs/cgroup/unified"]
            if let v2 = memoryV2Mount(), !roots.contains(v2) { roots = [v2] } // pure v2: one hierarchy at /sys/fs/cgroup
            for root in roots { walk(root, depth: 0) }
            return found
        }
    }
}
