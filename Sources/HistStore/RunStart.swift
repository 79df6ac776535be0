import HistModel

/// What `HistoryStore.beginRun` found and did.
public struct RunStart: Sendable, Equatable {
    /// `runs.id` of the new run.
    public var runID: Int64
    public var startedAt: Timestamp
    /// Earlier runs that were still open (histd died) and are now closed as `unclean`.
    public var closedRuns: [ClosedRun]
    /// Instances of those runs with no recorded end, from the same boot (or boot unknown): histd should
    /// check each identity in /proc, stop the live ones (or leave them) and record a `leftover` event.
    public var openInstances: [OpenInstance]

    public init(runID: Int64, startedAt: Timestamp, closedRuns: [ClosedRun], openInstances: [OpenInstance]) {
        self.runID = runID
        self.startedAt = startedAt
        self.closedRuns = closedRuns
        self.openInstances = openInstances
    }
}

/// An earlier run closed as unclean by `beginRun`.
public struct ClosedRun: Sendable, Hashable {
    public var runID: Int64
    /// histd's pid in that run.
    public var pid: Int32
    public var startedAt: Timestamp
    /// Its last recorded event, or the time it was closed if it had none.
    public var stoppedAt: Timestamp
    public var bootID: String?
}

/// A process histd recorded as started in an earlier run, with no recorded end.
public struct OpenInstance: Sendable, Hashable {
    /// `instances.id`.
    public var rowID: Int64
    public var runID: Int64
    public var program: String
    public var workerIndex: Int?
    /// Compare with /proc/PID/stat field 22 before acting: the pid may have been reused.
    public var identity: ProcessIdentity
    public var startedAt: Timestamp
}

/// Why a supervisor run ended (`runs.stop_reason`).
public enum RunStopReason: String, Sendable, CaseIterable {
    /// Orderly shutdown (also on SIGTERM/SIGINT: that is how histd is asked to stop). 0003 removed the
    /// never-set 'signal'.
    case clean
    /// Found open by the next start: histd died (kill -9, crash, power loss).
    case unclean
}
