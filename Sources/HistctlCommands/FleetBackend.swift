import HistModel
import HistReports

/// One thing a fleet command asks of the central PostgreSQL. The command tree builds it; a `FleetBackend`
/// (histctl-fleet's, the only one) runs it.
public enum FleetRequest: Sendable {
    case crashes(FleetScope, summary: Bool, newest: Int?)
    case loops(FleetScope, windowMs: Int64, minCrashes: Int)
    case status(FleetScope, now: Int64)
    case breaches(FleetScope)
    case zombies(FleetScope, ZombieFilter)
    case orphans(FleetScope, olderThanMs: Int64)
    /// The incident report over the shipped history (FleetPostmortem).
    case postmortem(FleetScope, now: Int64)
    case sql(String, FleetScope, now: Int64, timeoutMs: Int)
    /// The central schema as `histctl sql --schema` prints it (no connection needed).
    case schema
    /// `histctl fleet migrate`.
    case migrate
}

/// What a `FleetRequest` gives back.
public enum FleetReply: Sendable {
    case report(ReportResult)
    case text(String)
    case migrated(applied: [String], known: Int)
    case postmortem(Postmortem)
}

/// Why a fleet request failed, already worded for the operator.
public struct FleetFailure: Error, Sendable {
    /// True for the operator's mistakes (a bad URL, an unknown --program): exit 64. False: exit 1.
    public var isUsage: Bool
    public var message: String
    public init(usage: Bool, _ message: String) {
        self.isUsage = usage
        self.message = message
    }
}

/// Runs fleet requests against the central database. histctl itself has none: it execs histctl-fleet,
/// which links PostgreSQL's client (postgres-nio) and provides one (FleetMode.swift, FleetClient, says why).
public protocol FleetBackend: Sendable {
    /// Connects to `url`, checks `checking`'s --program names against the hosts in scope (an unknown one
    /// throws a usage `FleetFailure` worded by `UnknownFleetProgram`), runs `request`, and disconnects.
    func run(_ request: FleetRequest, url: String, passwordFile: String?, queryTimeout: Double,
             checking: FleetScope?) throws(FleetFailure) -> FleetReply
}

/// A --program name no host in scope has recorded.
public struct UnknownFleetProgram: Error, Sendable {
    public var name: String
    public var known: [String]
    public var hosts: [String]

    public init(name: String, known: [String], hosts: [String]) {
        self.name = name
        self.known = known
        self.hosts = hosts
    }

    public var message: String {
        let whose = hosts.isEmpty ? "any host" : "host " + hosts.map(QuotedString.quote).joined(separator: ", ")
        return CommonOptions.unknownProgram(name, known: known, in: "on \(whose) of the fleet database")
    }
}
