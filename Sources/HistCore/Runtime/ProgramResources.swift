import HistModel

/// Hook for per-program resources outside the process tree (cgroups). Called on the engine
/// thread; implementations must be quick and must not throw: they log their own problems.
public protocol ProgramResources: Sendable {
    /// Before each spawn of `unit`: the `cgroup.procs` files the child joins before it execs.
    func prepare(unit: UnitKey, spec: ProgramSpec) -> [String]
    /// The processes in `unit`'s resources right now (its cgroup's members); one quick read.
    func members(unit: UnitKey, spec: ProgramSpec) -> [Int32]
    /// SIGKILL everything left in `unit`'s resources, once, without waiting (on cgroup v2 through
    /// `cgroup.kill`). The engine's drain re-checks and records what is gone.
    func killAll(unit: UnitKey, spec: ProgramSpec)
    /// At shutdown, after every process is gone: remove what `prepare` created.
    func cleanup(unit: UnitKey, spec: ProgramSpec)
    /// After `unit`'s process died of a SIGKILL histd did not send: the limit the kernel enforced
    /// (e.g. `.cgroupMemory` for an OOM kill inside its cgroup), or nil.
    func killedAtLimit(unit: UnitKey, spec: ProgramSpec) -> LimitKind?
}

extension ProgramResources {
    public func members(unit: UnitKey, spec: ProgramSpec) -> [Int32] { [] }
    public func killedAtLimit(unit: UnitKey, spec: ProgramSpec) -> LimitKind? { nil }
}

/// No cgroups: processes live in histd's own.
public struct NoProgramResources: ProgramResources {
    public init() {}
    public func prepare(unit: UnitKey, spec: ProgramSpec) -> [String] { [] }
    public func killAll(unit: UnitKey, spec: ProgramSpec) {}
    public func cleanup(unit: UnitKey, spec: ProgramSpec) {}
}
