import Foundation
import GRDB
import Testing

#if canImport(Glibc)
import Glibc
import HistModel
#endif

extension EndToEnd {
    /// Names and command lines from outside (quotes, SQL, newlines, emoji) round-trip through a real
    /// histd run into every table, and out through every histctl format.
    @Suite struct Names {
        /// Program names as TOML quoted keys (escaped) and as the text they must become.
        static let names: [(toml: String, text: String)] = [
            (#"we\"ird 'name'"#, #"we"ird 'name'"#),
            ("'; DROP TABLE x; --", "'; DROP TABLE x; --"),
            ("🚀 émoji ✓ 日本", "🚀 émoji ✓ 日本"),
            (#"comma, \"csv\", end"#, #"comma, "csv", end"#),
        ]
        /// Extra argv, with newlines (TOML escapes), quotes and SQL; each instance prints them to stderr.
        static let argsTOML = [#""line1\nline2 'q' \"dq\"""#, #""'; DROP TABLE events; --""#, #""🚀\u00e9""#]
        static let args = ["line1\nline2 'q' \"dq\"", "'; DROP TABLE events; --", "🚀é"]
        /// What each instance writes to stderr (and its log file holds).
        static var stderrText: String { args.map { $0 + "\n" }.joined() }
        /// The stderr tail as recorded: StderrTail drops the final newline.
        static var tailText: String { String(stderrText.dropLast()) }

        @Test func hostileNamesAndArgumentsRoundTripThroughTheDatabaseAndHistctl() throws {
            let ws = try Workspace("names")
            defer { ws.cleanup() }
            var config = """
                [supervisor]
                db = "h.db"
                log_dir = "logs"
                snapshot_interval = "200ms"
                scan_interval = "off"

                """
            for n in Self.names {
                config += """

                    [program."\(n.toml)"]
                    command = ["/bin/sh", "-c", "printf '%s\\\\n' \\"$@\\" >&2; exit 7", "sh", \(Self.argsTOML.joined(separator: ", "))]
                    restart = "never"

                    """
            }
            let file = try ws.write("names.toml", config)
            let check = try E2E.run(E2E.histd, ["check", "--config", file])
            try #require(check.status == 0, "histd check: \(check.stderr)")
            let db = HistoryDB(path: ws.path("h.db"))
            let histd = try ws.runHistd(config: file)
            let done = E2E.waitUntil(15) { db.intOrZero("SELECT count(*) FROM instances WHERE class = 'crash'") == Self.names.count }
            #expect(done, "\(ws.log())")
            #expect(histd.stop() == 0)

            let expected = Set(Self.names.map(\.text))
            #expect(Set(try db.read { try String.fetchAll($0, sql: "SELECT name FROM programs") }) == expected)
            for n in Self.names {
                // instances: exit code and the stderr tail, byte for byte.
                let rows = try db.rows("""
                    SELECT i.exit_code, i.stderr_tail FROM instances i JOIN programs p ON p.id = i.program_id WHERE p.name = ?
                    """, [n.text])
                #expect(rows.count == 1, "\(n.text)")
                #expect(rows.first?["exit_code"] as Int? == 7)
                #expect(rows.first?["stderr_tail"] as String? == Self.tailText, "\(n.text): \(String(describing: rows.first?["stderr_tail"] as String?))")
                // events: start and crash of this program.
                #expect(try db.int("SELECT count(*) FROM event_log WHERE program = ? AND kind IN ('start', 'crash')", [n.text]) == 2)
                // program_configs: the command as configured.
                let json = try #require(try db.read {
                    try String.fetchOne($0, sql: """
                        SELECT c.config_json FROM program_configs c JOIN programs p ON p.id = c.program_id WHERE p.name = ?
                        """, arguments: [n.text])
                })
                let object = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any]
                let command = object?["command"] as? [String]
                #expect(Array((command ?? []).suffix(Self.args.count)) == Self.args, "\(json)")
                #expect(object?["name"] == nil || object?["name"] as? String == n.text)
                // The log files are named after it.
                #expect(FileManager.default.fileExists(atPath: ws.path("logs/\(n.text).err")))
                #expect((try? String(contentsOfFile: ws.path("logs/\(n.text).err"), encoding: .utf8)).map(LogMarker.programText) == Self.stderrText)
            }
            // runs and the schema are intact: nothing was executed from a name.
            #expect(try db.int("SELECT count(*) FROM runs WHERE stop_reason = 'clean'") == 1)
            #expect(try db.int("SELECT count(*) FROM sqlite_master WHERE name IN ('events', 'programs', 'instances')") == 3)
            #expect(try db.integrityCheck() == ["ok"])

            // histctl: JSON.
            let j = try E2E.run(E2E.histctl, ["crashes", "--db", db.path, "--since", "1h", "--format", "json"])
            #expect(j.status == 0, "\(j.stderr)")
            let rows = try #require(try JSONSerialization.jsonObject(with: j.stdoutData) as? [[String: Any]])
            #expect(Set(rows.compactMap { $0["program"] as? String }) == expected)
            #expect(rows.allSatisfy { $0["stderr_tail"] as? String == Self.tailText })

            // CSV (RFC 4180).
            let c = try E2E.run(E2E.histctl, ["crashes", "--db", db.path, "--since", "1h", "--format", "csv"])
            #expect(c.status == 0)
            let table = CSV.parse(c.stdout)
            let header = try #require(table.first)
            let programColumn = try #require(header.firstIndex(of: "program"))
            let tailColumn = try #require(header.firstIndex(of: "stderr_tail"))
            #expect(table.count == Self.names.count + 1)
            #expect(Set(table.dropFirst().map { $0[programColumn] }) == expected)
            #expect(table.dropFirst().allSatisfy { $0[tailColumn] == Self.tailText })

            // Table: every name appears whole, on one line each.
            let t = try E2E.run(E2E.histctl, ["crashes", "--db", db.path, "--since", "1h"])
            #expect(t.status == 0)
            for n in Self.names {
                #expect(t.stdout.split(separator: "\n").filter { $0.contains(n.text) }.count == 1, "\(n.text) in\n\(t.stdout)")
            }
            #expect(t.stdout.split(separator: "\n").count == Self.names.count + 1, "a newline broke a table row:\n\(t.stdout)")

            // --program with each name selects exactly that program (bound, not spliced into SQL).
            for n in Self.names {
                for format in ["json", "csv", "table"] {
                    let r = try E2E.run(E2E.histctl, ["crashes", "--db", db.path, "--since", "1h", "--program", n.text, "--format", format])
                    #expect(r.status == 0, "\(n.text) \(format): \(r.stderr)")
                    if format == "json" {
                        let one = try JSONSerialization.jsonObject(with: r.stdoutData) as? [[String: Any]]
                        #expect(one?.count == 1 && one?.first?["program"] as? String == n.text)
                    } else if format == "csv" {
                        let parsed = CSV.parse(r.stdout)
                        #expect(parsed.count == 2 && parsed.last?[programColumn] == n.text, "\(r.stdout)")
                    } else {
                        let lines = r.stdout.split(separator: "\n")
                        #expect(lines.count == 2 && lines.last?.contains(n.text) == true, "\(r.stdout)")
                    }
                }
            }
            // status lists them too.
            let s = try E2E.run(E2E.histctl, ["status", "--db", db.path, "--format", "json"])
            #expect(s.status == 0, "\(s.stderr)")
            for n in Self.names { #expect(s.stdout.contains(Self.jsonEscaped(n.text)), "\(n.text) not in status: \(s.stdout.prefix(800))") }
        }

        static func jsonEscaped(_ s: String) -> String {
            let data = try! JSONSerialization.data(withJSONObject: [s], options: [.withoutEscapingSlashes])
            let text = String(decoding: data, as: UTF8.self)
            return String(text.dropFirst(2).dropLast(2))
        }
    }
}

/// RFC 4180 CSV: quoted fields with doubled quotes, CRLF or LF line ends.
enum CSV {
    static func parse(_ text: String) -> [[String]] {
        var rows: [[String]] = [], row: [String] = [], field = ""
        var quoted = false, i = text.startIndex
        while i < text.endIndex {
            let ch = text[i]
            if quoted {
                if ch == "\"" {
                    let next = text.index(after: i)
                    if next < text.endIndex && text[next] == "\"" { field.append("\""); i = next } else { quoted = false }
                } else { field.append(ch) }
            } else if ch == "\"" { quoted = true
            } else if ch == "," { row.append(field); field = ""
            } else if ch == "\n" || ch == "\r\n" { row.append(field); field = ""; rows.append(row); row = []
            } else if ch != "\r" { field.append(ch) }
            i = text.index(after: i)
        }
        if !field.isEmpty || !row.isEmpty { row.append(field); rows.append(row) }
        return rows
    }
}
