import ArgumentParser
import Foundation

extension Histctl {
    struct Fleet: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "fleet",
            abstract: "Manage the central fleet database (PostgreSQL) that histd-ship fills.",
            discussion: """
            Fleet reports are the usual reports with --db postgres://...: histctl crashes --db postgres://histd@db/fleet \
            --since 1d --host web1 (docs/FLEET.md).
            """,
            subcommands: [Migrate.self])

        struct Migrate: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Apply the central schema's migrations (migrations/postgres) that the database lacks.",
                discussion: """
                histd-ship applies them itself when it connects; run this first when the shipping role may not \
                create tables. Safe to run again and beside shippers (one advisory lock serializes them).

                Example:
                  histctl fleet migrate --db postgres://admin@db.example/fleet
                """)

            @Option(help: ArgumentHelp("The central database: postgres://user@host:port/dbname.", valueName: "url"))
            var db: String

            @Option(help: ArgumentHelp("A file whose first line is the PostgreSQL password (default: PGPASSFILE, then ~/.pgpass).", valueName: "file"))
            var passwordFile: String?

            func run() throws {
                try Failure.report {
                    var options = try CommonOptions.parse(["--db", db] + (passwordFile.map { ["--password-file", $0] } ?? []))
                    options.db = db
                    guard case .migrated(let applied, let known) = try options.fleet(.migrate) else { throw Failure("fleet migrate: no answer") }
                    print(applied.isEmpty ? "up to date (\(known) migrations)" : "applied \(applied.joined(separator: ", "))")
                }
            }
        }
    }
}
