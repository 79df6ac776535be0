/// A process as the kernel knows it: a pid alone can be reused, so every process histd records is
/// identified by its pid **and** its start time (field 22 of `/proc/PID/stat`, clock ticks since boot).
public struct ProcessIdentity: Hashable, Sendable, CustomStringConvertible {
    public var pid: Int32
    /// Start time in clock ticks since boot (`starttime` in proc(5)).
    public var startTicks: UInt64

    public init(pid: Int32, startTicks: UInt64) {
        self.pid = pid
        self.startTicks = startTicks
    }

    public var description: String { "\(pid)@\(startTicks)" }
}
