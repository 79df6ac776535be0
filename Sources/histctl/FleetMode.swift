import Foundation
import HistFleet
import HistModel
import HistReports

/// `--db postgres://...`: the fleet reports (HistFleet) instead of the local SQLite ones.
extension CommonOptions {
    /// The central database's URL when --db (or $HISTD_DB) is a postgres:// URL.
    var fleetURL: String? {
        if let db, FleetURL.isFleetURL(db) { return db }
        if (db ?? "").isEmpty, let env = environment["HISTD_DB"], FleetURL.isFleetURL(env) { return env }
        return nil
    }

    var isFleet: Bool { fleetURL != nil }

    func fleetScope() throws -> FleetScope {
        let t = try times()
        return FleetScope(since: t.since.milliseconds, until: t.until.milliseconds, programs: programs, hosts: hosts)
    }

    /// Connects, runs `body`, closes. histctl is a short-lived command: its main thread waits here while
    /// postgres-nio runs on the cooperative pool (nothing else of histctl's is on that pool).
    /// `checking`: a scope whose --program names must exist on the hosts in scope (an unknown one is a usage
    /// error, exit 64, with "did you mean", as in the local reports).
    func withFleet<T: Sendable>(queryTimeout: Double = 60, checking scope: FleetScope? = nil,
                                _ body: @escaping @Sendable (FleetDatabase) async throws -> T) throws -> T {
        guard let text = fleetURL else { throw Failure("not a fleet database") }
        let url: FleetURL
        do { url = try FleetURL(text, passwordFile: passwordFile) } catch { throw UsageFailure(FleetError.text(error)) }
        let box = ResultBox<T>()
        let done = DispatchSemaphore(value: 0)
        Task {
            do {
                let db = try await FleetDatabase.connect(url, queryTimeout: queryTimeout)
                do {
                    if let scope {
                        let check = try await FleetReports.unknownPrograms(db, scope)
                        if let name = check.unknown.first { throw UnknownFleetProgram(name: name, known: check.known, hosts: scope.hosts) }
                    }
                    box.result = .success(try await body(db))
                } catch {
                    box.result = .failure(error)
                }
                await db.close()
            } catch {
                box.result = .failure(error)
            }
            done.signal()
        }
        done.wait()
        switch box.result! {
        case .success(let v): return v
        case .failure(let e as UnknownFleetProgram): throw UsageFailure(e.message)
        case .failure(let e): throw Failure(FleetError.text(e))
        }
    }
}

/// A --program name no host in scope has recorded.
struct UnknownFleetProgram: Error {
    var name: String
    var known: [String]
    var hosts: [String]

    var message: String {
        let whose = hosts.isEmpty ? "any host" : "host " + hosts.map(QuotedString.quote).joined(separator: ", ")
        return CommonOptions.unknownProgram(name, known: known, in: "on \(whose) of the fleet database")
    }
}

/// Carries a result from the task to the waiting main thread (written once before the semaphore is
/// signalled, read once after it).
final class ResultBox<T>: @unchecked Sendable {
    var result: Result<T, any Error>?
}
