import ArgumentParser
import HistReports

extension Histctl {
    struct SQL: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "sql",
            abstract: "Ask the history anything: run one read-only SQL statement, or print the documented schema.",
            discussion: """
            The connection is read-only (SQLITE_OPEN_READONLY and PRAGMA query_only); any write is refused. Times are \
            INTEGER ms since the epoch UTC. The statement may use :since, :until, :now (ms) and :programs (a JSON array \
            of the --program names), bound from the common options. --schema prints every CREATE statement; the comments \
            inside them are the column documentation.

            Example: histctl sql "SELECT p.name, COUNT(*) FROM events e JOIN programs p ON p.id = e.program_id WHERE e.kind = 3 AND e.ts >= :since GROUP BY 1"
            """)

        @OptionGroup var options: CommonOptions

        @Flag(help: "Print the schema (tables, views, indexes) with its inline documentation.")
        var schema = false

        @Argument(help: "One SQL statement (SELECT, WITH, EXPLAIN, read-only PRAGMA).")
        var statement: String?

        mutating func validate() throws {
            if schema == (statement != nil) { throw ValidationError("give either a SQL statement or --schema") }
        }

        func run() throws {
            try Failure.report {
                let db = try options.open()
                if schema {
                    print(try AdHocSQL.schema(db), terminator: "")
                    return
                }
                try options.emit(try AdHocSQL.run(db, sql: statement ?? "", scope: options.scope(db)))
            }
        }
    }
}
