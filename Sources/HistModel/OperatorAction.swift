/// One request an operator made through the control socket, with who made it and what came of it.
/// Recorded as an `operator_action` event; the facts it caused carry its `seq` (`HistEvent.operatorAction`).
public struct OperatorAction: Hashable, Sendable {
    /// Number of the action within this supervisor run (1, 2, ...), assigned by the control server.
    public var seq: UInt64
    /// The verb: "start", "stop", "restart", "signal", "scale", "reload", "status".
    public var action: String
    /// The names the request gave (programs, pools, pool workers).
    public var programs: [String]
    /// "done", "no_such_unit", "already", "shutting_down", "refused", "failed", "timeout", "denied"
    /// (no permission), "bad_request".
    public var result: String
    /// The answer's text as histctl printed it.
    public var message: String
    /// The peer, from SO_PEERCRED at connect time; `user` and `comm` as resolved then.
    public var uid: UInt32
    public var gid: UInt32
    public var user: String
    public var pid: Int32
    public var comm: String
    /// Extra request fields: the signal name, the requested size, dry_run.
    public var argument: String?

    public init(seq: UInt64, action: String, programs: [String], result: String, message: String, uid: UInt32,
                gid: UInt32, user: String, pid: Int32, comm: String, argument: String? = nil) {
        self.seq = seq
        self.action = action
        self.programs = programs
        self.result = result
        self.message = message
        self.uid = uid
        self.gid = gid
        self.user = user
        self.pid = pid
        self.comm = comm
        self.argument = argument
    }
}
