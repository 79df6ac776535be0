import Foundation
import HistModel
import Testing

#if canImport(Glibc)
import Glibc
#endif

extension EndToEnd {
    /// Malformed input through the real binaries: `histd check` on generated broken TOML, and every
    /// histctl report on files that are not usable history databases.
    @Suite struct BadInput {
        /// A valid config that uses most keys; the cases below cut, twist and mutate it.
        static let base = """
            # a comment
            [supervisor]
            db = "h.db"
            log_dir = "logs"
            shutdown_timeout = "10s"
            snapshot_interval = "1s"
            scan_interval = "10s"
            retention = "30d"
            orphan_ignore = ["cron*", "sshd: *"]
            log_max_size = "10M"

            [program.web]
            command = ["/bin/sh", "-c", "exec sleep 1000"]
            env = { PORT = "8080", MODE = "prod" }
            restart = "on-failure"
            restart_delay = "500ms"
            backoff_factor = 2.0
            max_backoff = "30s"
            max_restarts = 5
            stop_signal = "TERM"
            stop_timeout = "5s"
            stop_order = 2
            max_memory_mb = 512
            cgroup = { memory_max = "512M", cpu_quota = "50%", tasks_max = 64 }

            [program.worker]
            command = "/bin/sh -c 'exit 0'"
            autostart = false

            [pool.jobs]
            command = ["/bin/true"]
            min_workers = 1
            max_workers = 4
            """


        static func cases() -> [(name: String, bytes: Data)] {
            textCases().map { ($0.0, Data($0.1.utf8)) } + rawCases()
        }

        /// Bytes that are not valid UTF-8, in names, values and comments.
        static func rawCases() -> [(String, Data)] {
            let b = Array(base.utf8)
            func splice(_ after: String, _ junk: [UInt8]) -> Data {
                let text = base
                guard let r = text.range(of: after) else { return Data(b) }
                let offset = text.utf8.distance(from: text.utf8.startIndex, to: r.upperBound)
                return Data(b[..<offset] + junk + b[offset...])
            }
            return [
                ("invalid utf-8 in a table name", splice("[program.wor", [0xFF, 0xFE])),
                ("overlong utf-8 in a value", splice("db = \"h", [0xC0, 0xAF])),
                ("lone continuation byte in a comment", splice("# a com", [0x80])),
                ("truncated utf-8 at the end", Data(b + [0xE2, 0x82])),
                ("utf-16 file", base.data(using: .utf16) ?? Data()),
            ]
        }

        static func textCases() -> [(String, String)] {
            var out: [(String, String)] = [("base", base)]
            let bytes = Array(base.utf8)
            // Truncations: every 13th byte, and just around each newline.
            for cut in stride(from: 0, to: bytes.count, by: 13) {
                out.append(("truncated at \(cut)", String(decoding: bytes[..<cut], as: UTF8.self)))
            }
            // Wrong types, for each key.
            let wrong: [(String, String)] = [
                ("shutdown_timeout = \"10s\"", "shutdown_timeout = 10"), ("snapshot_interval = \"1s\"", "snapshot_interval = true"),
                ("db = \"h.db\"", "db = 42"), ("log_dir = \"logs\"", "log_dir = [\"a\"]"), ("retention = \"30d\"", "retention = 1979-05-27"),
                ("orphan_ignore = [\"cron*\", \"sshd: *\"]", "orphan_ignore = \"cron*\""), ("orphan_ignore = [\"cron*\", \"sshd: *\"]", "orphan_ignore = [1, 2]"),
                ("log_max_size = \"10M\"", "log_max_size = \"ten megabytes\""), ("restart = \"on-failure\"", "restart = \"sometimes\""),
                ("restart = \"on-failure\"", "restart = 1"), ("restart_delay = \"500ms\"", "restart_delay = 0.5"),
                ("backoff_factor = 2.0", "backoff_factor = \"2\""), ("max_restarts = 5", "max_restarts = \"5\""),
                ("max_restarts = 5", "max_restarts = 5.5"), ("stop_signal = \"TERM\"", "stop_signal = \"SIGNOPE\""),
                ("stop_signal = \"TERM\"", "stop_signal = 99"), ("stop_order = 2", "stop_order = \"first\""),
                ("max_memory_mb = 512", "max_memory_mb = \"512M\""), ("cgroup = { memory_max = \"512M\", cpu_quota = \"50%\", tasks_max = 64 }", "cgroup = \"512M\""),
                ("cpu_quota = \"50%\"", "cpu_quota = \"fast\""), ("tasks_max = 64", "tasks_max = -1"),
                ("command = [\"/bin/sh\", \"-c\", \"exec sleep 1000\"]", "command = 42"),
                ("command = [\"/bin/sh\", \"-c\", \"exec sleep 1000\"]", "command = []"),
                ("command = [\"/bin/sh\", \"-c\", \"exec sleep 1000\"]", "command = [\"/bin/sh\", 1]"),
                ("command = [\"/bin/sh\", \"-c\", \"exec sleep 1000\"]", "command = [\"/no/such/binary\"]"),
                ("command = [\"/bin/sh\", \"-c\", \"exec sleep 1000\"]", "command = [\"\"]"),
                ("command = \"/bin/sh -c 'exit 0'\"", "command = \"/bin/sh -c 'unterminated\""),
                ("env = { PORT = \"8080\", MODE = \"prod\" }", "env = { PORT = 8080 }"), ("env = { PORT = \"8080\", MODE = \"prod\" }", "env = [\"PORT=1\"]"),
                ("autostart = false", "autostart = \"no\""), ("min_workers = 1", "min_workers = 10"), ("max_workers = 4", "max_workers = 0"),
                ("[supervisor]", "supervisor = 3\n[supervisor2]"), ("[program.web]", "[program]\nweb = 1\n[program.web2]"),
                ("[program.web]", "[[program.web]]"), ("max_restarts = 5", "max_restarts = 5\nmax_restartz = 6"),
            ]
            for (old, new) in wrong { out.append(("wrong: \(new)", base.replacingOccurrences(of: old, with: new))) }
            // Huge and odd numbers.
            let huge = ["9223372036854775807", "-9223372036854775808", "99999999999999999999999", "1e308", "inf", "nan", "-0", "0x7fffffffffffffff", "0", "-1"]
            for h in huge {
                out.append(("huge max_restarts = \(h)", base.replacingOccurrences(of: "max_restarts = 5", with: "max_restarts = \(h)")))
                out.append(("huge max_memory_mb = \(h)", base.replacingOccurrences(of: "max_memory_mb = 512", with: "max_memory_mb = \(h)")))
                out.append(("huge backoff_factor = \(h)", base.replacingOccurrences(of: "backoff_factor = 2.0", with: "backoff_factor = \(h)")))
            }
            for d in ["99999999999999999999d", "9223372036854775807s", "1e400s", "-1s", "0s", "1.5.5s", "", "5 s", "5x", "100000000000w"] {
                out.append(("duration \(d)", base.replacingOccurrences(of: "restart_delay = \"500ms\"", with: "restart_delay = \"\(d)\"")))
                out.append(("interval \(d)", base.replacingOccurrences(of: "snapshot_interval = \"1s\"", with: "snapshot_interval = \"\(d)\"")))
            }
            for size in ["99999999999999999999M", "1E", "-5M", "0", "512Q"] {
                out.append(("size \(size)", base.replacingOccurrences(of: "memory_max = \"512M\"", with: "memory_max = \"\(size)\"")))
            }
            // Unicode and hostile names.
            let names = ["héllo", "🚀 rocket", "日本語", "a\\u0000b", "a\\nb", "a/b", "..", "", "\\u202Eevil", "e\\u0301", "tab\\there",
                         String(repeating: "x", count: 300), String(repeating: "🚀", count: 60), "'; DROP TABLE programs; --", "\\\"quoted\\\"", "\\uD800"]
            for n in names {
                out.append(("name \(n.prefix(20))", base.replacingOccurrences(of: "[program.worker]", with: "[program.\"\(n)\"]")))
            }
            out.append(("bare unicode key", base.replacingOccurrences(of: "[program.worker]", with: "[program.héllo]")))
            out.append(("replacement character", base.replacingOccurrences(of: "worker", with: "w\u{FFFD}rker")))
            // Duplicates.
            out.append(("duplicate table", base + "\n[program.web]\ncommand = [\"/bin/true\"]\n"))
            out.append(("duplicate key", base.replacingOccurrences(of: "max_restarts = 5", with: "max_restarts = 5\nmax_restarts = 6")))
            out.append(("duplicate supervisor", base + "\n[supervisor]\ndb = \"x.db\"\n"))
            out.append(("duplicate program and pool name", base + "\n[pool.web]\ncommand = [\"/bin/true\"]\n"))
            out.append(("dotted redefinition", base + "\nprogram.web.restart = \"always\"\n"))
            // Structural oddities.
            out.append(("deep arrays", "x = " + String(repeating: "[", count: 5000) + String(repeating: "]", count: 5000) + "\n"))
            out.append(("very deep arrays", "[supervisor]\ndb = " + String(repeating: "[", count: 100_000) + "\n"))
            out.append(("deep inline tables", "x = " + String(repeating: "{ a = ", count: 2000) + "1" + String(repeating: " }", count: 2000) + "\n"))
            out.append(("long string", "[supervisor]\ndb = \"" + String(repeating: "a", count: 1 << 20) + "\"\n"))
            out.append(("long line of keys", "[supervisor]\n" + (0..<5000).map { "k\($0) = \($0)" }.joined(separator: "\n")))
            out.append(("empty", ""))
            out.append(("only comments", "# nothing\n# here\n"))
            out.append(("nul bytes", "[supervisor]\u{0}\ndb = \"\u{0}\"\n"))
            out.append(("crlf", base.replacingOccurrences(of: "\n", with: "\r\n")))
            out.append(("bom", "\u{FEFF}" + base))
            out.append(("multiline strings", base.replacingOccurrences(of: "db = \"h.db\"", with: "db = \"\"\"\nh.db\n\"\"\"")))
            out.append(("unterminated multiline", base.replacingOccurrences(of: "db = \"h.db\"", with: "db = \"\"\"\nh.db\n")))
            // Random byte mutations of the base config (reproducible).
            var rng = SeededGenerator(seed: 0x4849_5354_44)
            let alphabet = Array("[]{}=\"'#.,\n\\ 0123456789abc-_:".utf8)
            for i in 0..<60 {
                var b = bytes
                for _ in 0..<(1 + i % 4) {
                    let pos = Int.random(in: 0..<b.count, using: &rng)
                    switch Int.random(in: 0..<3, using: &rng) {
                    case 0: b[pos] = alphabet.randomElement(using: &rng)!
                    case 1: b.remove(at: pos)
                    default: b.insert(alphabet.randomElement(using: &rng)!, at: pos)
                    }
                }
                out.append(("mutation \(i)", String(decoding: b, as: UTF8.self)))
            }
            return out
        }

        @Test func histdCheckNeverCrashesOnMalformedTOML() throws {
            let ws = try Workspace("badtoml")
            defer { ws.cleanup() }
            let all = Self.cases()
            var passes = 0, problems = 0
            var passed: [String] = []
            let t0 = Date()
            for (i, c) in all.enumerated() {
                let file = ws.path("case\(i).toml")
                // Raw bytes, so NULs and odd encodings reach the parser as written.
                FileManager.default.createFile(atPath: file, contents: c.bytes)
                let r = try E2E.run(E2E.histd, ["check", "--config", file], cwd: ws.dir, timeout: 30)
                #expect(!r.signaled, "case \(i) (\(c.name)): histd check died by signal \(r.status)")
                // 3: the config is valid but its db cannot be used (e.g. a name too long), since histd check
                // looks at the database too (issue 12).
                #expect(r.status == 0 || r.status == 2 || r.status == 3, "case \(i) (\(c.name)): exit \(r.status): \(r.stderr.prefix(500))")
                if r.status == 3 {
                    #expect(r.stdout.contains(": ok") && r.stderr.hasPrefix("histd check: history database "),
                            "case \(i) (\(c.name)): exit 3 without naming the database: \(r.stderr.prefix(300))")
                }
                if r.status == 0 {
                    passes += 1
                    passed.append(c.name)
                    #expect(r.stdout.contains(": ok"), "case \(i) (\(c.name)): passed without saying ok: \(r.stdout.prefix(300))")
                } else if r.status == 2 {
                    problems += 1
                    #expect(r.stderr.contains("nothing was started"), "case \(i) (\(c.name)): \(r.stderr.prefix(500))")
                    // Every problem line names the file (FILE:LINE: or FILE:).
                    let lines = r.stderr.split(separator: "\n").filter { !$0.contains("nothing was started") }
                    #expect(!lines.isEmpty && lines.allSatisfy { $0.contains(file) }, "case \(i) (\(c.name)): \(r.stderr.prefix(500))")
                }
            }
            #expect(all.count >= 200)
            #expect(passes >= 1 && problems >= 150)
            print("bad TOML: \(all.count) cases in \(String(format: "%.1f", Date().timeIntervalSince(t0))) s: \(passes) clean passes (\(passed.joined(separator: " | "))), \(problems) with problems")
        }

        @Test func histdCheckHandlesTenThousandPrograms() throws {
            let ws = try Workspace("manytoml")
            defer { ws.cleanup() }
            var text = "[supervisor]\ndb = \"h.db\"\n"
            for i in 0..<10_000 { text += "\n[program.p\(i)]\ncommand = [\"/bin/true\"]\nstop_order = \(i % 7)\n" }
            let file = try ws.write("many.toml", text)
            let t0 = Date()
            let r = try E2E.run(E2E.histd, ["check", "--config", file], timeout: 120)
            #expect(!r.signaled && r.status == 0, "\(r.stderr.prefix(500))")
            #expect(r.stdout.contains("ok — 10000 programs"))
            // The same with one duplicate in the middle: one clear error, not 10,000.
            let dup = try ws.write("dup.toml", text + "\n[program.p5000]\ncommand = [\"/bin/true\"]\n")
            let d = try E2E.run(E2E.histd, ["check", "--config", dup], timeout: 120)
            #expect(!d.signaled && d.status == 2)
            #expect(d.stderr.contains("p5000"), "\(d.stderr.prefix(500))")
            print("10,000 programs: histd check took \(String(format: "%.2f", Date().timeIntervalSince(t0))) s for both")
        }

        /// What histctl's golden tests don't cover: every report (not just crashes), files a real histd
        /// wrote (WAL mode) cut at page boundaries, random garbage, and that no -wal/-shm or other file
        /// appears next to the bad file.
        @Test func everyHistctlReportRefusesUnusableDatabasesAndTouchesNothing() throws {
            let ws = try Workspace("baddb")
            defer { ws.cleanup() }
            // A real history, written by histd scan --once (twice, so it has a few pages).
            let good = ws.path("good.db")
            for _ in 0..<2 {
                let r = try E2E.run(E2E.histd, ["scan", "--once", "--db", good], timeout: 60)
                try #require(r.status == 0, "histd scan --once: \(r.stderr)")
            }
            let goodBytes = try Data(contentsOf: URL(fileURLWithPath: good))
            try #require(goodBytes.count >= 8192)
            var bad: [(String, String)] = []   // (folder, file name inside it)
            func add(_ name: String, _ data: Data?) throws {
                let folder = ws.path("case-\(name)")
                try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
                if let data { FileManager.default.createFile(atPath: folder + "/h.db", contents: data) }
                else { try FileManager.default.createDirectory(atPath: folder + "/h.db", withIntermediateDirectories: true) }
                bad.append((folder, "h.db"))
            }
            try add("header-only", goodBytes.prefix(100))
            try add("one-page", goodBytes.prefix(4096))
            try add("page-minus-one", goodBytes.prefix(goodBytes.count - 4097))
            try add("half", goodBytes.prefix(goodBytes.count / 2))
            try add("empty", Data())
            try add("directory", nil)
            var rng = SeededGenerator(seed: 7)
            try add("garbage", Data((0..<65536).map { _ in UInt8.random(in: 0...255, using: &rng) }))
            var header = goodBytes.prefix(16)
            header.append(Data(count: 8176))
            try add("header-then-zeros", header)
            try add("text", Data("SQLite format 3 — not really\n".utf8))
            let other = ws.path("other.db")
            let py = try E2E.run("/usr/bin/env", ["sqlite3", other, "CREATE TABLE events(a); INSERT INTO events VALUES (1);"], timeout: 30)
            if py.status == 0 { try add("not-histd", try Data(contentsOf: URL(fileURLWithPath: other))) }

            let reports: [[String]] = [["crashes"], ["loops"], ["zombies"], ["orphans"], ["breaches"], ["status"], ["top"],
                                       ["postmortem", "--since", "1h"], ["sql", "SELECT 1"]]
            for (folder, file) in bad {
                let path = folder + "/" + file
                let listing = try FileManager.default.contentsOfDirectory(atPath: folder).sorted()
                let before = try? Data(contentsOf: URL(fileURLWithPath: path))
                for report in reports {
                    let args = [report[0], "--db", path] + report.dropFirst()
                    let r = try E2E.run(E2E.histctl, args, timeout: 30)
                    #expect(!r.signaled, "\(args) died by signal \(r.status)")
                    #expect(r.status != 0, "\(args) on \(folder) exited 0: \(r.stdout.prefix(200))")
                    #expect(r.stdout.isEmpty, "\(args): printed a report: \(r.stdout.prefix(200))")
                    #expect(!r.stderr.isEmpty && r.stderr.contains("h.db"), "\(args): unclear error: \(r.stderr.prefix(300))")
                    #expect(!r.stderr.contains("Fatal error"), "\(args): \(r.stderr.prefix(300))")
                }
                #expect(try FileManager.default.contentsOfDirectory(atPath: folder).sorted() == listing, "files appeared in \(folder)")
                #expect((try? Data(contentsOf: URL(fileURLWithPath: path))) == before, "\(path) was modified")
            }
        }
    }
}
