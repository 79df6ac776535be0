import ArgumentParser
import Foundation
import HistConfig
import HistModel
import HistReports
import HistSys

extension OutputFormat: ExpressibleByArgument {}
extension TopSort: ExpressibleByArgument {}

/// Options every report shares: where the database is, the time range, the program filter, the output.
struct CommonOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The history database (default: $HISTD_DB, then the config's db, then the default path), or a central postgres://user@host/db for a fleet report (crashes, loops, status, breaches, zombies, orphans, postmortem, sql: docs/FLEET.md).", valueName: "path|url"))
    var db: String?

    @Option(name: .customLong("host"), help: ArgumentHelp("Fleet reports (--db postgres://...): only this host id; repeat for several.", valueName: "name"))
    var hosts: [String] = []

    @Option(help: ArgumentHelp("Fleet reports: a file whose first line is the PostgreSQL password (default: PGPASSFILE, then ~/.pgpass).", valueName: "file"))
    var passwordFile: String?

    @Option(name: .long, help: ArgumentHelp("A histd config file whose `db` names the database (used when neither --db nor $HISTD_DB is set).", valueName: "file"))
    var config: String?

    @Option(help: ArgumentHelp("Start of the range: now, today, yesterday, a duration ago (30s, 15m, 1h30m, -1h, \"2 hours ago\"), @EPOCH seconds, or a time (2026-11-21T10:00:00Z, \"2026-11-21 10:00\" local, 2026-11-21).", valueName: "time"))
    var since: String = "1d"

    @Option(help: ArgumentHelp("End of the range, same forms as --since (default: now).", valueName: "time"))
    var until: String?

    @Option(name: .customLong("program"), help: ArgumentHelp("Only this program or pool, or one pool worker by its log name (jobs.0); repeat for several. A name the history does not have is an error.", valueName: "name"))
    var programs: [String] = []

    @Option(name: [.customShort("n"), .long], help: ArgumentHelp("Show at most N rows (tables show 50 by default; JSON and CSV everything).", valueName: "N"))
    var limit: Int?

    @Flag(help: "Show every row, also in tables.")
    var all = false

    @Flag(help: "Do not shorten table cells to the terminal width (full stderr tails and command lines).")
    var wide = false

    @Option(help: "Output format: table for people, json or csv for scripts, html for a page (postmortem: charts).")
    var format: OutputFormat = .table

    @Flag(help: "Exit with status 3 when the report is not empty (for cron and alerting).")
    var failIfFound = false

    /// Pins "now" (tests and reproducible reports).
    @Option(help: .hidden)
    var now: String?

    mutating func validate() throws {
        _ = try times()
        if let limit, limit < 1 { throw ValidationError("--limit must be at least 1") }
        if all && limit != nil { throw ValidationError("give either --limit or --all") }
        if !hosts.isEmpty && fleetURL == nil { throw ValidationError("--host selects hosts of a fleet database: give --db postgres://user@host/db") }
    }

    /// How many rows to show: --limit, everything with --all, else 50 in tables and all in JSON/CSV.
    func rowLimit(tableDefault: Int = 50) -> Int? {
        if all { return nil }
        if let limit { return limit }
        return format == .table ? tableDefault : nil
    }

    /// The terminal width for tables: $COLUMNS, else TIOCGWINSZ on stdout, else none (a pipe or file gets
    /// whole lines). --wide turns shortening off.
    var width: Int? {
        if wide { return nil }
        return TerminalWidth.columns(environment: environment, fd: STDOUT_FILENO)
    }

    func renderOptions() -> RenderOptions {
        let color = RenderOptions.colorWanted(environment: environment, isTTY: isatty(STDOUT_FILENO) == 1)
        return RenderOptions(zone: zone, color: color, width: width)
    }

    /// The environment (a seam for tests is not needed: the binary is tested as a whole).
    var environment: [String: String] { ProcessInfo.processInfo.environment }
    var zone: TimeZone { TimeText.zone(environment: environment) }

    /// (since, until, now), parsed; a bad value is a usage error naming the accepted forms.
    func times() throws -> (since: Timestamp, until: Timestamp, now: Timestamp) {
        // Once: each `zone` reads the whole environment and builds a TimeZone.
        let zone = self.zone
        do {
            let now = try self.now.map { try TimeInput.parse($0, option: "--now", now: .now(), zone: zone) } ?? .now()
            let since = try TimeInput.parse(since, option: "--since", now: now, zone: zone)
            let until = try until.map { try TimeInput.parse($0, option: "--until", now: now, zone: zone) } ?? now
            guard since < until else {
                throw ValidationError("--since (\(TimeText.iso(since))) must be before --until (\(TimeText.iso(until)))")
            }
            return (since, until, now)
        } catch let e as TimeInput.ParseError {
            throw ValidationError(e.description)
        }
    }

    /// The scope, with every --program name checked against the history: an unknown name is a usage
    /// error (exit 64) with "did you mean", not an empty report.
    func scope(_ db: ReportDatabase) throws -> ReportScope {
        let t = try times()
        return ReportScope(since: t.since, until: t.until, programs: programs, now: t.now,
                           workerPools: try checkedPrograms(db))
    }

    /// Worker names and their pools; throws UsageFailure for a name the history does not have.
    func checkedPrograms(_ db: ReportDatabase) throws -> [String: String] {
        let resolution = try ProgramFilter.resolve(db, programs)
        guard let name = resolution.unknown.first else { return resolution.workerPools }
        throw UsageFailure(Self.unknownProgram(name, known: resolution.known, in: "in the history \(db.path)"))
    }

    /// The error for a --program name the history (`place`: where it was looked for) does not have, with the
    /// closest known name or, failing that, what there is. Shared by the local and the fleet reports.
    static func unknownProgram(_ name: String, known: [String], in place: String) -> String {
        var message = "no program, pool or pool worker named \(QuotedString.quote(name)) \(place)"
        if let guess = KeySuggestion.closest(to: name, among: known) {
            message += "; did you mean \(QuotedString.quote(guess))?"
        } else if known.isEmpty {
            message += " (it records no programs yet)"
        } else {
            let shown = known.prefix(10).map(QuotedString.quote).joined(separator: ", ")
            message += " (it has \(shown)\(known.count > 10 ? ", ..." : ""))"
        }
        return message
    }

    /// The local database's path in the documented order (nil with a fleet URL or a config that fails).
    func localDatabasePath() -> String? {
        guard fleetURL == nil else { return nil }
        var configDB: String? = nil
        let env = environment
        if (db ?? "").isEmpty, (env["HISTD_DB"] ?? "").isEmpty, let config {
            configDB = (try? loadConfig(config))?.supervisor.db
        }
        return DatabaseLocation.resolve(flag: db, environment: env, configDB: configDB).path
    }

    /// Opens the database read-only, resolving its path in the documented order.
    func open() throws -> ReportDatabase {
        if let url = fleetURL {
            throw UsageFailure("this report has no fleet version yet: with --db \(url) use crashes (also --summary), loops, status, breaches, zombies, orphans, postmortem or sql (docs/FLEET.md)")
        }
        var configDB: String? = nil
        let env = environment
        if (db ?? "").isEmpty, (env["HISTD_DB"] ?? "").isEmpty, let config {
            configDB = try loadConfig(config).supervisor.db
        }
        let location = DatabaseLocation.resolve(flag: db, environment: env, configDB: configDB)
        do {
            let db = try ReportDatabase(path: location.path)
            if let note = db.schemaNote { FileHandle.standardError.write(Data("histctl: \(note)\n".utf8)) }
            return db
        } catch {
            throw Failure(error.description + (location.source == .flag ? "" : " (path from \(location.source.rawValue))"))
        }
    }

    /// Prints a report in the chosen format (at most rowLimit() rows, `keep` says which; a table says how
    /// many it left out), then applies --fail-if-found to the whole report.
    /// `alreadyLimited`: the query applied the limit itself and this many rows were left out.
    func emit(_ result: ReportResult, keep: RowSelection = .first, tableDefault: Int = 50, alreadyLimited: Int? = nil,
              table transform: (ReportResult) -> ReportResult = { $0 }) throws {
        var (shown, more) = result.limited(to: rowLimit(tableDefault: tableDefault), keep: keep)
        if let alreadyLimited { more += alreadyLimited }
        if let bytes = Renderer.bytes(shown, as: format) {
            try write(bytes)
        } else {
            var out = Renderer.render(format == .table ? transform(shown) : shown, as: format, options: renderOptions())
            if format == .table, more > 0 { out += Renderer.moreFooter(more) }
            print(out, terminator: "")
        }
        try failIfNeeded(found: !result.isEmpty || (alreadyLimited ?? 0) > 0)
    }

    /// Writes a whole listing (67 k crashes are 6.6 MB of CSV) to stdout as built, not copied into a String.
    func write(_ bytes: [UInt8]) throws {
        fflush(nil) // anything printed before goes first
        guard bytes.withUnsafeBytes({ Sys.writeAll(STDOUT_FILENO, $0) }) else {
            throw Failure("cannot write the report to stdout: \(Sys.errnoText(errno))")
        }
    }

    func failIfNeeded(found: Bool) throws {
        if failIfFound && found { throw ExitCode(3) }
    }
}

/// Loads `--config FILE`; a config that does not load is exit status 2 with the loader's messages.
func loadConfig(_ path: String) throws -> HistConfig {
    do {
        return try ConfigLoader.load(path: path)
    } catch {
        FileHandle.standardError.write(Data("histctl: cannot use config \(path):\n\(error.description)\n".utf8))
        throw ExitCode(2)
    }
}

/// A usage error found only once the database is open (an unknown --program): exit status 64.
struct UsageFailure: Error, CustomStringConvertible {
    var description: String
    init(_ message: String) { description = message }
}

/// A runtime failure: message on stderr, exit status 1.
struct Failure: Error, CustomStringConvertible {
    var description: String
    init(_ message: String) { description = message }
}

extension Failure {
    /// Writes the message and converts to exit 1 (argument-parser's own "Error:" prefix is avoided so
    /// messages read the same from every command).
    static func report(_ body: () throws -> Void) throws {
        do {
            try body()
        } catch let f as Failure {
            FileHandle.standardError.write(Data("histctl: error: \(f.description)\n".utf8))
            throw ExitCode(1)
        } catch let u as UsageFailure {
            FileHandle.standardError.write(Data("histctl: error: \(u.description)\n".utf8))
            throw ExitCode(64)
        } catch let e as ReportError {
            FileHandle.standardError.write(Data("histctl: error: \(e.description)\n".utf8))
            throw ExitCode(1)
        }
    }
}

/// Parses a duration option value, as a usage error naming the accepted forms.
func duration(_ text: String, option: String) throws -> Duration {
    do {
        return try HistDuration.parse(text)
    } catch {
        throw ValidationError("invalid value \"\(text)\" for \(option): expected \(HistDuration.acceptedForms)")
    }
}
