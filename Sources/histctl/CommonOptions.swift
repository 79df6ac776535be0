import ArgumentParser
import Foundation
import HistConfig
import HistModel
import HistReports

extension OutputFormat: ExpressibleByArgument {}
extension TopSort: ExpressibleByArgument {}

/// Options every report shares: where the database is, the time range, the program filter, the output.
struct CommonOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The history database (default: $HISTD_DB, then the config's db, then the default path).", valueName: "path"))
    var db: String?

    @Option(name: .long, help: ArgumentHelp("A histd config file whose `db` names the database (used when neither --db nor $HISTD_DB is set).", valueName: "file"))
    var config: String?

    @Option(help: ArgumentHelp("Start of the range: a duration ago (30s, 15m, 1h, 1d, 2w) or a time (2026-11-21T10:00:00Z, \"2026-11-21 10:00\" local, 2026-11-21).", valueName: "time"))
    var since: String = "1d"

    @Option(help: ArgumentHelp("End of the range, same forms as --since (default: now).", valueName: "time"))
    var until: String?

    @Option(name: .customLong("program"), help: ArgumentHelp("Only this program or pool; repeat for several.", valueName: "name"))
    var programs: [String] = []

    @Option(help: "Output format: table for people, json or csv for scripts, html for a page (postmortem: charts).")
    var format: OutputFormat = .table

    @Flag(help: "Exit with status 3 when the report is not empty (for cron and alerting).")
    var failIfFound = false

    /// Pins "now" (tests and reproducible reports).
    @Option(help: .hidden)
    var now: String?

    mutating func validate() throws {
        _ = try times()
    }

    /// The environment (a seam for tests is not needed: the binary is tested as a whole).
    var environment: [String: String] { ProcessInfo.processInfo.environment }
    var zone: TimeZone { TimeText.zone(environment: environment) }

    /// (since, until, now), parsed; a bad value is a usage error naming the accepted forms.
    func times() throws -> (since: Timestamp, until: Timestamp, now: Timestamp) {
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

    func scope() throws -> ReportScope {
        let t = try times()
        return ReportScope(since: t.since, until: t.until, programs: programs, now: t.now)
    }

    /// Opens the database read-only, resolving its path in the documented order.
    func open() throws -> ReportDatabase {
        var configDB: String? = nil
        let env = environment
        if (db ?? "").isEmpty, (env["HISTD_DB"] ?? "").isEmpty, let config {
            configDB = try loadConfig(config).supervisor.db
        }
        let location = DatabaseLocation.resolve(flag: db, environment: env, configDB: configDB)
        do {
            return try ReportDatabase(path: location.path)
        } catch {
            throw Failure(error.description + (location.source == .flag ? "" : " (path from \(location.source.rawValue))"))
        }
    }

    /// Prints a report in the chosen format, then applies --fail-if-found.
    func emit(_ result: ReportResult) throws {
        let color = RenderOptions.colorWanted(environment: environment, isTTY: isatty(STDOUT_FILENO) == 1)
        print(Renderer.render(result, as: format, options: RenderOptions(zone: zone, color: color)), terminator: "")
        try failIfNeeded(found: !result.isEmpty)
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
