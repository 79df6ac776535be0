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

    public init(key: String, owner: ProcessIdentity) {
        self.key = key
        self.owner = owner
    }

    /// `KEY:PID:START_TICKS` (the key may itself contain ':'; the last two fields are numbers).
    public var text: String { "\(key):\(owner.pid):\(owner.startTicks)" }

    public static func parse(_ text: String) -> RunMarker? {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count >= 3, let pid = Int32(parts[parts.count - 2]), let ticks = UInt64(parts[parts.count - 1]) else {
            return nil
        }
        return RunMarker(key: parts[0..<(parts.count - 2)].joined(separator: ":"),
                         owner: ProcessIdentity(pid: pid, startTicks: ticks))
    }
}
