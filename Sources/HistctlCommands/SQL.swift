import ArgumentParser
import Foundation
import HistModel
import HistReports

extension Histctl {
    struct SQL: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "sql",
            abstract: "Ask the history anything: run one read-only SQL statement, or print the documented schema.",
            discussion: """
            The connection is read-only (SQLITE_OPEN_READONLY and PRAGMA query_only); any write is refused. It is safe \
            for SQL from people you do not fully trust: SQLite's defensive mode is on, load_extension() and \
            fts3_tokenizer() are off, and a statement still running after --timeout (default 30s) is interrupted. \
            Times are INTEGER ms since the epoch UTC. The statement may use :since, :until, :now (ms) and :programs \
            (a JSON array of the --program names), bound from the common options. --schema prints every CREATE \
            statement; the comments inside them are the column documentation.

            The statement is the argument, or the contents of -f FILE, or standard input when the argument is "-". \
            A statement that starts with a "--" comment works as an argument too.

            Example: histctl sql "SELECT p.name, COUNT(*) FROM events e JOIN programs p ON p.id = e.program_id WHERE e.kind = 3 AND e.ts >= :since GROUP BY 1"
            Example: histctl sql -f weekly.sql --timeout 2m

            With --db postgres://... (a fleet database, docs/FLEET.md) the statement runs on the central PostgreSQL in \
            a READ ONLY transaction with statement_timeout = --timeout (default 30s, as the fleet reports; 0 is refused \
            there). Only SELECT, WITH, VALUES, TABLE, EXPLAIN and SHOW run. It may use $1 since, $2 until, $3 now \
            (bigint ms UTC), $4 the --program names and $5 the --host names (text[]). Every central row carries host_id \
            and db_epoch; --schema prints the central schema (migrations/postgres). Types other than numbers, booleans \
            and text need a cast to text.

            Example: histctl sql --db postgres://histd@db.example/fleet "SELECT host_id, count(*) FROM instances WHERE class = 'crash' AND ended_at >= $1 GROUP BY 1"
            """)

        @OptionGroup var options: CommonOptions

        @Flag(help: "Print the schema (tables, views, indexes) with its inline documentation.")
        var schema = false

        @Option(name: [.customShort("f"), .customLong("file")], help: "Read the statement from this file.")
        var file: String?

        @Option(help: "Interrupt the statement after this long (250ms, 30s, 5m, ...; 0 = never).")
        var timeout: String = "30s"

        @Argument(help: "One SQL statement (SELECT, WITH, EXPLAIN, read-only PRAGMA), or - to read it from standard input.")
        var statement: String?

        mutating func validate() throws {
            let sources = (schema ? 1 : 0) + (statement != nil ? 1 : 0) + (file != nil ? 1 : 0)
            if sources != 1 { throw ValidationError("give exactly one of: a SQL statement, -f FILE, - (standard input), or --schema") }
            do { _ = try HistDuration.parse(timeout) } catch {
                throw ValidationError("--timeout: \(error)")
            }
        }

        func run() throws {
            try Failure.report {
                if options.isFleet {
                    try runFleet()
                    return
                }
                let db = try options.open()
                if schema {
                    print(try AdHocSQL.schema(db), terminator: "")
                    return
                }
                let sql = try Self.text(statement: statement, file: file)
                let limit = try HistDuration.parse(timeout)
                let scope = try options.scope(db)
                let result = try db.withTimeout(limit) { () throws(ReportError) in
                    try AdHocSQL.run(db, sql: sql, scope: scope)
                }
                try options.emit(result)
            }
        }

        /// The statement on the central PostgreSQL (FleetSQL), read-only, with a statement timeout.
        func runFleet() throws {
            if schema {
                if case .text(let schema) = try options.fleet(.schema) { print(schema, terminator: "") }
                return
            }
            let limit = try HistDuration.parse(timeout).milliseconds
            guard limit > 0, limit <= 3_600_000 else {
                throw UsageFailure("--timeout with a fleet database: between 1ms and 1h (a statement on the shared server must end)")
            }
            let sql = try Self.text(statement: statement, file: file)
            let scope = try options.fleetScope(), now = try options.times().now.milliseconds
            let result = try options.fleetReport(.sql(sql, scope, now: now, timeoutMs: Int(limit)), queryTimeout: Double(limit) / 1000 + 30)
            try options.emit(result)
        }

        /// The statement from the argument, the file, or standard input ("-").
        static func text(statement: String?, file: String?) throws -> String {
            if let file {
                guard let data = FileManager.default.contents(atPath: file) else { throw Failure("cannot read \(file)") }
                return String(decoding: data, as: UTF8.self)
            }
            if statement == "-" {
                return String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
            }
            return statement ?? ""
        }

        /// ArgumentParser reads any argument starting with "--" as an option, so `histctl sql "-- why\nSELECT 1"`
        /// failed with "unknown option". An option name never holds whitespace, so after `sql` an argument
        /// that starts with "--" and holds a space or newline is SQL: it moves to the end, after a "--"
        /// terminator (options after it, such as `--db`, still count).
        static func protectComments(_ arguments: [String]) -> [String] {
            guard let sqlIndex = arguments.firstIndex(where: { !$0.hasPrefix("-") }), arguments[sqlIndex] == "sql" else { return arguments }
            let rest = arguments[(sqlIndex + 1)...]
            if rest.contains("--") { return arguments }
            guard let commentIndex = rest.firstIndex(where: { arg in
                arg.hasPrefix("--") && arg.contains(where: { $0 == " " || $0 == "\n" || $0 == "\t" })
            }) else { return arguments }
            var out = arguments
            let statement = out.remove(at: commentIndex)
            return out + ["--", statement]
        }
    }
}
