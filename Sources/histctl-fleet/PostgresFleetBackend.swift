import Foundation
import HistFleet
import HistctlCommands
import HistReports

/// Runs fleet requests with postgres-nio (HistFleet): connect, check --program names, run, close.
struct PostgresFleetBackend: FleetBackend {
    /// histctl is a short-lived command: its main thread waits here while postgres-nio runs on the
    /// cooperative pool (nothing else of histctl's is on that pool).
    func run(_ request: FleetRequest, url text: String, passwordFile: String?, queryTimeout: Double,
             checking scope: FleetScope?) throws(FleetFailure) -> FleetReply {
        switch request {
        case .schema: return .text(FleetSQL.schema)
        default: break
        }
        let url: FleetURL
        do { url = try FleetURL(text, passwordFile: passwordFile) } catch { throw FleetFailure(usage: true, FleetError.text(error)) }
        let box = ResultBox<FleetReply>()
        let done = DispatchSemaphore(value: 0)
        Task {
            do {
                let db = try await FleetDatabase.connect(url, queryTimeout: queryTimeout)
                do {
                    if let scope {
                        let check = try await FleetReports.unknownPrograms(db, scope)
                        if let name = check.unknown.first { throw UnknownFleetProgram(name: name, known: check.known, hosts: scope.hosts) }
                    }
                    box.result = .success(try await Self.answer(request, db))
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
        case .success(let reply): return reply
        case .failure(let e as UnknownFleetProgram): throw FleetFailure(usage: true, e.message)
        case .failure(let e): throw FleetFailure(usage: false, FleetError.text(e))
        }
    }

    static func answer(_ request: FleetRequest, _ db: FleetDatabase) async throws -> FleetReply {
        switch request {
        case .crashes(let scope, let summary, let newest):
            .report(try await FleetReports.crashes(db, scope, summary: summary, newest: newest))
        case .loops(let scope, let windowMs, let minCrashes):
            .report(try await FleetReports.loops(db, scope, windowMs: windowMs, minCrashes: minCrashes))
        case .status(let scope, let now):
            .report(try await FleetReports.status(db, scope, now: now))
        case .breaches(let scope):
            .report(try await FleetReports.breaches(db, scope))
        case .zombies(let scope, let filter):
            .report(try await FleetReports.zombies(db, scope, filter: filter))
        case .orphans(let scope, let olderThanMs):
            .report(try await FleetReports.orphans(db, scope, olderThanMs: olderThanMs))
        case .postmortem(let scope, let now):
            .postmortem(try await FleetPostmortem.build(db, scope, now: now))
        case .sql(let sql, let scope, let now, let timeoutMs):
            .report(try await FleetSQL.run(db, sql: sql, scope: scope, now: now, timeoutMs: timeoutMs))
        case .schema:
            .text(FleetSQL.schema)
        case .migrate:
            .migrated(applied: try await FleetMigrator.migrate(db), known: FleetMigrator.migrations.count)
        }
    }
}

/// Carries a result from the task to the waiting main thread (written once before the semaphore is
/// signalled, read once after it).
final class ResultBox<T>: @unchecked Sendable {
    var result: Result<T, any Error>?
}
