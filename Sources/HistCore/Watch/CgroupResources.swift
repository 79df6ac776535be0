import HistModel
import HistProc
import Logging
import Synchronization

/// Puts each program (each pool worker slot) that has a `cgroup = {...}` table into its own cgroup:
/// the child joins it between fork and exec (so memory is charged from the first page), a stop
/// kills everything left in it (double-forked escapees included), and shutdown removes it.
///
/// When cgroups are unavailable, `histd run` says so once at startup and uses `NoProgramResources`.
public final class CgroupResources: ProgramResources {
    private let cgroups: Cgroups
    private let logger: Logger
    private let controllers = Mutex<[UnitKey: CgroupController]>([:])
    /// OOM kills already attributed to an instance's end, per unit.
    private let oomSeen = Mutex<[UnitKey: Int64]>([:])

    public init(cgroups: Cgroups, logger: Logger) {
        self.cgroups = cgroups
        self.logger = logger
    }

    /// The cgroup of a unit, if it has one (for OOM and pids-limit polling).
    public func controller(for unit: UnitKey) -> CgroupController? {
        controllers.withLock { $0[unit] }
    }

    /// Every unit with a cgroup.
    public func allControllers() -> [(UnitKey, CgroupController)] {
        controllers.withLock { $0.map { ($0.key, $0.value) } }
    }

    public func prepare(unit: UnitKey, spec: ProgramSpec) -> [String] {
        guard let limits = spec.cgroup else { return [] }
        if let existing = controller(for: unit) {
            oomSeen.withLock { $0[unit] = existing.oomKillCount() ?? 0 }
            return existing.procsFiles
        }
        do {
            let controller = try cgroups.create(program: unit.description, limits: limits)
            controllers.withLock { $0[unit] = controller }
            return controller.procsFiles
        } catch {
            // The program still runs, without its limits; say so loudly rather than not start it.
            logger.error("\(unit): cannot create its cgroup (\(error)); starting it without cgroup limits")
            return []
        }
    }

    /// An OOM kill in the unit's cgroup since its process started means the kernel killed it there.
    public func killedAtLimit(unit: UnitKey, spec: ProgramSpec) -> LimitKind? {
        guard let controller = controller(for: unit), let now = controller.oomKillCount() else { return nil }
        let before = oomSeen.withLock { seen in
            defer { seen[unit] = now }
            return seen[unit] ?? 0
        }
        return now > before ? .cgroupMemory : nil
    }

    public func members(unit: UnitKey, spec: ProgramSpec) -> [Int32] {
        controller(for: unit)?.pids() ?? []
    }

    /// One pass, no waiting: the engine thread calls this (its drain re-checks on a timer).
    public func killAll(unit: UnitKey, spec: ProgramSpec) {
        guard let controller = controller(for: unit) else { return }
        _ = controller.killAll(signal: SIGKILL, timeout: .zero)
    }

    /// Called once the unit's drain is over (or at teardown): one SIGKILL pass, no waiting, then rmdir.
    public func cleanup(unit: UnitKey, spec: ProgramSpec) {
        guard let controller = controllers.withLock({ $0.removeValue(forKey: unit) }) else { return }
        _ = controller.killAll(signal: SIGKILL, timeout: .zero)
        do { try controller.remove() } catch {
            logger.warning("\(unit): cannot remove its cgroup: \(error)")
        }
    }

    /// Removes histd's parent groups at shutdown (after every unit's cleanup).
    public func removeParents() { cgroups.removeParents() }
}

#if canImport(Glibc)
import Glibc
#endif
