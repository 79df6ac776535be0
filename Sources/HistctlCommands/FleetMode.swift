import Foundation
import HistModel
import HistReports
import HistSys

/// `--db postgres://...`: the fleet reports instead of the local SQLite ones.
extension CommonOptions {
    /// The central database's URL when --db (or $HISTD_DB) is a postgres:// URL.
    var fleetURL: String? {
        if let db, FleetScope.isFleetURL(db) { return db }
        if (db ?? "").isEmpty, let env = environment["HISTD_DB"], FleetScope.isFleetURL(env) { return env }
        return nil
    }

    var isFleet: Bool { fleetURL != nil }

    func fleetScope() throws -> FleetScope {
        let t = try times()
        return FleetScope(since: t.since.milliseconds, until: t.until.milliseconds, programs: programs, hosts: hosts)
    }

    /// Runs `request` on the central database. In histctl, which has no fleet backend, this execs
    /// histctl-fleet with the same arguments and does not return (FleetClient).
    /// `checking`: a scope whose --program names must exist on the hosts in scope (an unknown one is a usage
    /// error, exit 64, with "did you mean", as in the local reports).
    func fleet(_ request: FleetRequest, queryTimeout: Double = 60, checking scope: FleetScope? = nil) throws -> FleetReply {
        guard let url = fleetURL else { throw Failure("not a fleet database") }
        guard let backend = Histctl.fleetBackend else { try FleetClient.execFleetClient() }
        do {
            return try backend.run(request, url: url, passwordFile: passwordFile, queryTimeout: queryTimeout, checking: scope)
        } catch {
            if error.isUsage { throw UsageFailure(error.message) }
            throw Failure(error.message)
        }
    }

    /// `fleet(_:)` for the requests that answer with a report.
    func fleetReport(_ request: FleetRequest, queryTimeout: Double = 60, checking scope: FleetScope? = nil) throws -> ReportResult {
        guard case .report(let result) = try fleet(request, queryTimeout: queryTimeout, checking: scope) else {
            throw Failure("the fleet backend gave no report for \(request)")
        }
        return result
    }
}

/// histctl's way to the fleet reports: exec `histctl-fleet`, installed next to it.
///
/// Why a second executable: the fleet client needs postgres-nio (SwiftNIO, BoringSSL). Linked into histctl,
/// it made every local report start slower (9,070 Swift conformance records to scan instead of 6,719, the
/// binary 166 MB instead of 98 MB; with the symbol-table change beside it, `histctl --version` went from 8.6 to
/// 6.5 ms on a quiet box: BENCHMARKS.md, "histctl's own cost"), and the local reports are the on-call path. So histctl carries the command tree only, and a postgres:// --db hands the same arguments and
/// environment to histctl-fleet, which is the same command tree plus the PostgreSQL backend.
enum FleetClient {
    static let executableName = "histctl-fleet"

    /// The sibling of the running executable (`/proc/self/exe`, not argv[0] or $PATH, so that what runs is
    /// the copy installed beside this histctl).
    static func path() throws -> String {
        guard let me = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") else {
            throw Failure("fleet reports: cannot find histctl's own executable (/proc/self/exe) to locate \(executableName)")
        }
        return (me as NSString).deletingLastPathComponent + "/" + executableName
    }

    static func execFleetClient() throws -> Never {
        let target = try path()
        guard access(target, X_OK) == 0 else {
            throw Failure("fleet reports (--db postgres://...) run in \(executableName), which is not installed next to histctl: \(target) \(Sys.errnoText(errno)); install it with scripts/install.sh, or run it directly")
        }
        let args = [target] + CommandLine.arguments.dropFirst()
        var argv: [UnsafeMutablePointer<CChar>?] = args.map { strdup($0) } + [nil]
        fflush(nil)  // every output stream: nothing histctl wrote may be lost by exec
        execv(target, &argv)
        let reason = Sys.errnoText(errno)
        throw Failure("cannot run \(target): \(reason)")
    }
}
