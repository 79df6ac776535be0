/// The mark histd puts in every child's environment, which descendants inherit: `HISTD_RUN` names
/// the histd process that started it (with the database it records to), `HISTD_UNIT` the unit.
///
/// Why an environment variable: it survives setsid, double forks and subreapers (nothing else a
/// process inherits does), it works without cgroups, and it is in place before exec, so a process
/// spawned in the moment before histd dies carries it even if its row was never committed. The
/// next histd finds such processes by reading `/proc/PID/environ`; the histd named by a marker is
/// dead when no process has its pid and start time.
public struct RunMarker: Hashable, Sendable {
    public static let runVariable = "HISTD_RUN"
    public static let unitVariable = "HISTD_UNIT"

    /// Which histd family (in `histd run`, the database path): a histd only recovers what a dead
    /// histd of its own family left, so two histds with different databases never stop each other's processes.
    public var key: String
    /// The histd process.
    public var owner: ProcessIdentity
    /// One supervisor inside that process (a process may run several engines, as the tests do).
    public var engine: UInt64

    public init(key: String, owner: ProcessIdentity, engine: UInt64) {
        self.key = key
        self.owner = owner
        self.engine = engine
    }

    /// `KEY:PID:START_TICKS:ENGINE` (the key may itself contain ':'; the last three fields are numbers).
    public var text: String { "\(key):\(owner.pid):\(owner.startTicks):\(engine)" }

    public static func parse(_ text: String) -> RunMarker? {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        let n = parts.count
        guard n >= 4, let pid = Int32(parts[n - 3]), let ticks = UInt64(parts[n - 2]), let engine = UInt64(parts[n - 1]) else {
            return nil
        }
        return RunMarker(key: parts[0..<(n - 3)].joined(separator: ":"),
                         owner: ProcessIdentity(pid: pid, startTicks: ticks), engine: engine)
    }
}
