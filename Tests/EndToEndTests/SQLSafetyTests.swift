import Foundation
import Testing
import TestThreads

/// `histctl sql` with SQL from outside: timeout, defensive connection, fts3_tokenizer off, and the
/// ways a statement gets in (a leading -- comment, -f FILE, - for stdin).
@Suite(.blocking) struct SQLSafetyTests {
    static func withSample(_ body: (String, String) throws -> Void) throws {
        let dir = NSTemporaryDirectory() + "histctl-sql-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let db = dir + "/h.db"
        try HistctlSample.create(at: db)
        try body(db, dir)
    }

    @Test func runawayCrossJoinIsInterruptedByTheTimeout() throws {
        try Self.withSample { db, _ in
            // Never finishes on its own: an endless recursive CTE joined with itself.
            let runaway = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c a, c b"
            let r = try E2E.run(E2E.histctl, ["sql", "--db", db, "--timeout", "500ms", runaway], timeout: 120)
            #expect(!r.signaled, "histctl had to be killed: the timeout did not interrupt the statement")
            #expect(r.status == 1)
            #expect(r.stderr.contains("the statement was interrupted after 500ms (--timeout)"), "\(r.stderr)")
            // A statement that finishes is not affected by a timeout.
            let ok = try E2E.run(E2E.histctl, ["sql", "--db", db, "--timeout", "30s", "--format", "csv", "SELECT COUNT(*) AS n FROM events"])
            #expect(ok.stdout == "n\r\n24\r\n", "\(ok.stderr)")
        }
    }

    @Test func fts3TokenizerAndSchemaWritesAreRefused() throws {
        try Self.withSample { db, _ in
            for call in ["SELECT fts3_tokenizer('simple')", "SELECT hex(fts3_tokenizer('simple'))", "SELECT fts3_tokenizer('x', x'0000000000000000')"] {
                let r = try E2E.run(E2E.histctl, ["sql", "--db", db, call])
                #expect(r.status == 1, "\(call): \(r.stdout)")
                #expect(r.stderr.contains("fts3_tokenizer() is disabled"), "\(call): \(r.stderr)")
                #expect(r.stdout.isEmpty)
            }
            let load = try E2E.run(E2E.histctl, ["sql", "--db", db, "SELECT load_extension('/tmp/nope')"])
            #expect(load.status == 1)
        }
    }

    @Test func statementStartingWithACommentFileAndStdin() throws {
        try Self.withSample { db, dir in
            let commented = "-- how many events?\nSELECT COUNT(*) AS n FROM events"
            let r = try E2E.run(E2E.histctl, ["sql", commented, "--db", db, "--format", "csv"])
            #expect(r.status == 0, "\(r.stderr)")
            #expect(r.stdout == "n\r\n24\r\n")
            let terminated = try E2E.run(E2E.histctl, ["sql", "--db", db, "--format", "csv", "--", "--x\nSELECT 2 AS n"])
            #expect(terminated.stdout == "n\r\n2\r\n", "\(terminated.stderr)")

            let file = dir + "/q.sql"
            try "-- from a file\nSELECT COUNT(*) AS n\nFROM events;\n".write(toFile: file, atomically: true, encoding: .utf8)
            let f = try E2E.run(E2E.histctl, ["sql", "--db", db, "--format", "csv", "-f", file])
            #expect(f.stdout == "n\r\n24\r\n", "\(f.stderr)")

            let stdin = try E2E.run("/bin/sh", ["-c", "printf -- '-- stdin\\nSELECT 3 AS n' | \"$0\" sql --db \"$1\" --format csv -", E2E.histctl, db])
            #expect(stdin.stdout == "n\r\n3\r\n", "\(stdin.stderr)")

            let both = try E2E.run(E2E.histctl, ["sql", "--db", db, "-f", file, "SELECT 1"])
            #expect(both.status == 64)
            #expect(both.stderr.contains("give exactly one of"))
        }
    }
}
