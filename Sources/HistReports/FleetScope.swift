/// What a fleet report covers: a time range, programs, hosts. It lives here, below both histctl's
/// command tree (HistctlCommands) and the PostgreSQL client (HistFleet), because the command tree builds
/// it without linking HistFleet (histctl-fleet runs the fleet reports; HistctlCommands/FleetMode.swift says why).
public struct FleetScope: Sendable {
    public var since: Int64
    public var until: Int64
    public var programs: [String]
    public var hosts: [String]
    public init(since: Int64, until: Int64, programs: [String] = [], hosts: [String] = []) {
        self.since = since
        self.until = until
        self.programs = programs
        self.hosts = hosts
    }

    /// Whether a --db value (or $HISTD_DB) names the central PostgreSQL rather than a SQLite file.
    public static func isFleetURL(_ s: String) -> Bool {
        s.hasPrefix("postgres://") || s.hasPrefix("postgresql://")
    }
}
