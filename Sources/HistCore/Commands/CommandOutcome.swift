import HistModel

/// The answer to a `SupervisorCommand`: what the engine did, or why it did nothing.
public enum CommandOutcome: Hashable, Sendable {
    /// The action was carried out (or, when waiting, has taken effect). One entry per unit touched.
    case done([UnitChange])
    /// No program, pool or pool worker has this name; `suggestion` is the closest known name, if any.
    case noSuchUnit(name: String, suggestion: String?)
    /// Every unit named is already in the state the command asks for (running, stopped, that size).
    case already(String)
    /// histd is shutting down (or has shut down): the command was not carried out.
    case shuttingDown
    /// The command is not allowed as asked (a size outside min/max, a signal that needs --force).
    case refused(String)
    /// The command was carried out but did not reach its goal (the new instance crashed, the spawn
    /// failed), or it could not be carried out at all (nothing running to signal).
    case failed(String)
    /// The wait ended before the action took effect. The action itself goes on.
    case timedOut(String)

    /// True for `.done`.
    public var isDone: Bool { if case .done = self { true } else { false } }
}

/// What a command did to one unit: its process before and after.
public struct UnitChange: Hashable, Sendable {
    public var unit: UnitKey
    /// The pid that ran before the command (nil when nothing ran).
    public var oldPID: Int32?
    /// The pid that runs after the command took effect (nil when nothing runs, or when not waited for).
    public var newPID: Int32?
    /// The unit's state when the answer was made.
    public var state: ProgramState

    public init(unit: UnitKey, oldPID: Int32?, newPID: Int32?, state: ProgramState) {
        self.unit = unit
        self.oldPID = oldPID
        self.newPID = newPID
        self.state = state
    }
}
