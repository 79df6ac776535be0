/// The `[supervisor]` table, validated. Paths are absolute.
public struct SupervisorSpec: Hashable, Sendable, Codable {
    /// History database path (`db`), nil = default resolution (see `DatabaseLocation`).
    public var db: String?
    /// Folder for NAME.out / NAME.err.
    public var logDir: String
    public var shutdownTimeout: Duration
    /// nil = sampling off.
    public var snapshotInterval: Duration?
    /// nil = zombie/orphan scans off.
    public var scanInterval: Duration?
    /// Events, instances and scans older than this are pruned.
    public var retention: Duration
    /// Snapshots older than this are pruned (they dominate size).
    public var snapshotRetention: Duration
    /// Glob patterns (matched against process name and cmdline) that are never reported as orphans.
    public var orphanIgnore: [String]
    /// What `histd run` does with live processes left by an earlier histd that died: stop them (default) or leave them.
    public var stopLeftovers: Bool
    /// Control socket path (`control_socket`), nil = default resolution (see `SocketLocation`).
    public var controlSocket: String?
    /// Group whose members may act through the control socket (`control_group`); root always may.
    public var controlGroup: String?
    /// Group whose members may only read status through the control socket (`read_group`).
    public var readGroup: String?
    /// Restore each program's restart state (failed, or backoff with its remaining delay and attempt)
    /// from the history when histd starts. `[supervisor] restore_state`, default true.
    public var restoreState: Bool = true
    /// Prefix each line of NAME.out / NAME.err with its UTC time, and mark each instance's start
    /// (`log_timestamps`, default true; see docs/HISTCTL.md, `histctl logs`).
    public var logTimestamps: Bool
    /// `group`: the group of the database (and its -wal/-shm), log_dir and the log files, so its members
    /// read history and logs without sudo; nil = histd's own group.
    public var group: String?
    /// `group` resolved when the config loaded.
    public var groupID: UInt32?
    /// The `metrics_*` keys: Prometheus endpoint and textfile (both off by default).
    public var metrics: MetricsSpec = MetricsSpec()

    public init(db: String? = nil, logDir: String = "logs", shutdownTimeout: Duration = .seconds(30),
                snapshotInterval: Duration? = .seconds(1), scanInterval: Duration? = .seconds(10),
                retention: Duration = .seconds(30 * 86400), snapshotRetention: Duration = .seconds(7 * 86400),
                orphanIgnore: [String] = [], stopLeftovers: Bool = true,
                controlSocket: String? = nil, controlGroup: String? = nil, readGroup: String? = nil,
                logTimestamps: Bool = true) {
        self.db = db
        self.logDir = logDir
        self.shutdownTimeout = shutdownTimeout
        self.snapshotInterval = snapshotInterval
        self.scanInterval = scanInterval
        self.retention = retention
        self.snapshotRetention = snapshotRetention
        self.orphanIgnore = orphanIgnore
        self.stopLeftovers = stopLeftovers
        self.controlSocket = controlSocket
        self.controlGroup = controlGroup
        self.readGroup = readGroup
        self.logTimestamps = logTimestamps
    }
}

/// A whole validated config file.
public struct HistConfig: Hashable, Sendable, Codable {
    /// Absolute path of the file it came from.
    public var path: String
    /// Hex SHA-256 (or another stable hash) of the file's bytes, recorded with each supervisor run.
    public var contentHash: String
    public var supervisor: SupervisorSpec
    /// In file order.
    public var programs: [ProgramSpec]
    /// In file order.
    public var pools: [PoolSpec]
    /// `[ship]`: nil = this host does not ship its history (docs/FLEET.md).
    public var ship: ShipSpec?

    public init(path: String, contentHash: String, supervisor: SupervisorSpec, programs: [ProgramSpec], pools: [PoolSpec],
                ship: ShipSpec? = nil) {
        self.ship = ship
        self.path = path
        self.contentHash = contentHash
        self.supervisor = supervisor
        self.programs = programs
        self.pools = pools
    }
}
