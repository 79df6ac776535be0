import HistModel

/// A validated new config and its plan against the running one, for `SupervisorCommand.reload`.
/// Build it with `ReloadPlan.make(old:new:)`; a plan with refusals is not applied.
public struct ReloadRequest: Hashable, Sendable {
    public var plan: ReloadPlan
    public var config: HistConfig
    /// Where the request came from, for the log line ("SIGHUP from pid 812 (uid 0)").
    public var origin: String

    public init(plan: ReloadPlan, config: HistConfig, origin: String) {
        self.plan = plan
        self.config = config
        self.origin = origin
    }
}

/// Who sent a signal, from signalfd's `ssi_pid`/`ssi_uid` (or the handler's `siginfo_t`).
public struct SignalSender: Hashable, Sendable {
    public var signal: Int32
    /// 0 when the kernel sent it or it is unknown.
    public var pid: Int32
    public var uid: UInt32

    public init(signal: Int32, pid: Int32, uid: UInt32) {
        self.signal = signal
        self.pid = pid
        self.uid = uid
    }
}
