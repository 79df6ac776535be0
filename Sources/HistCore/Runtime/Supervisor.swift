#if canImport(Glibc)
import Glibc
#endif
import CShim
import Foundation
import HistModel
import HistSys
import Logging
import Synchronization

/// The read end of the process-wide signal pipe (-1 until `Supervisor.prepareProcess()`).
enum SignalPipe {
    static let fd = Mutex<Int32>(-1)
}

/// Keeps a set of programs (and pool worker slots) alive. Owns one engine thread; every other
/// method is thread-safe and returns at once.
///
/// Lifecycle: `init` → `start()` → (`post` commands, read `liveInstances()`) → `post(.shutdown)` or
/// SIGTERM/SIGINT → `waitUntilFinished()`. A supervisor runs once.
public final class Supervisor: Sendable {
    private let shared: SharedState
    private let programs: [ProgramSpec]
    private let pools: [PoolSpec]
    private let supervisorSpec: SupervisorSpec
    private let sink: any HistorySink
    private let logger: Logger
    private let resources: any ProgramResources
    private let options: SupervisorOptions
    /// The running autoscaler of each pool that has one (replaced when a reload changes the pool).
    private let autoscalers = Mutex<[String: PoolAutoscaler]>([:])

    /// - Parameters:
    ///   - programs: validated programs (names unique among programs and pools).
    ///   - pools: pools; each starts `minWorkers` worker slots (resize with `.setDesiredWorkers`).
    ///   - sink: receives every fact as a `HistEvent`; must never block.
    ///   - resources: cgroup hook (default: none).
    public init(programs: [ProgramSpec], pools: [PoolSpec] = [], supervisor: SupervisorSpec,
                sink: any HistorySink, logger: Logger, resources: any ProgramResources = NoProgramResources(),
                options: SupervisorOptions = SupervisorOptions()) throws(SupervisorError) {
        var names = Set<String>()
        for name in programs.map(\.name) + pools.map(\.name) {
            guard names.insert(name).inserted else {
                throw SupervisorError(.duplicateName, "two programs or pools are named \"\(name)\"")
            }
        }
        self.shared = try SharedState()
        self.programs = programs
        self.pools = pools
        self.supervisorSpec = supervisor
        self.sink = sink
        self.logger = logger
        self.resources = resources
        self.options = options
    }

    /// Prepares the process for a supervisor, in `main` before any other thread starts: blocks
    /// SIGCHLD/SIGTERM/SIGINT/SIGHUP (threads inherit the mask, so only the engine's signalfd sees
    /// them) and makes this process a child subreaper, so orphaned descendants come to histd.
    ///
    /// Threads that already exist (an async `main` runs on Swift's pool) keep their masks, so the
    /// signals also get a handler that forwards them through a pipe the engine watches: whichever
    /// thread the kernel picks, the engine hears of the signal.
    ///
    /// It also raises RLIMIT_NOFILE's soft limit to the hard limit (one fd per pidfd, two per
    /// pipe, plus the /proc caches: see `FileLimit`).
    public static func prepareProcess() throws(SupervisorError) {
        FileLimit.raiseSoftToHard()
        // While few fds are open: each spawned child then copies only the fds below these slots
        // (CShim's histd_spawn). Failure is harmless; histd_spawn reserves them on first use.
        _ = histd_spawn_reserve_slots()
        let signals = SignalPolicy.handled
        let rc = histd_block_signals(signals, Int32(signals.count))
        guard rc == 0 else { throw SupervisorError(.setupFailed, "pthread_sigmask: \(Sys.errnoText(rc))") }
        let installed = SignalPipe.fd.withLock { fd -> Bool in
            if fd < 0 { fd = histd_signal_pipe_install(signals, Int32(signals.count)) }
            return fd >= 0
        }
        guard installed else { throw SupervisorError(.setupFailed, "sigaction: \(Sys.errnoText(errno))") }
        guard histd_set_child_subreaper() == 0 else {
            throw SupervisorError(.setupFailed, "prctl(PR_SET_CHILD_SUBREAPER): \(Sys.errnoText(errno))")
        }
    }

    /// Starts the engine thread (which starts the programs) and returns.
    public func start() throws(SupervisorError) {
        let already = shared.state.withLock { s in
            defer { s.started = true }
            return s.started
        }
        if already { throw SupervisorError(.alreadyStarted, "this supervisor was already started") }
        let (programs, pools, spec, sink, logger, resources, options, shared) =
            (self.programs, self.pools, supervisorSpec, self.sink, self.logger, self.resources, self.options, self.shared)
        let environment = options.environment ?? ProcessInfo.processInfo.environment
        let thread = Thread.named("histd-engine") {
            let engine = Engine(programs: programs, pools: pools, supervisorSpec: spec, sink: sink, logger: logger,
                                resources: resources, options: options, shared: shared, baseEnvironment: environment)
            engine.run()
        }
        thread.stackSize = 4 << 20
        thread.start()
        for pool in pools { startAutoscaler(pool) }
    }

    private func startAutoscaler(_ pool: PoolSpec) {
        guard options.autoscale, pool.maxWorkers > pool.minWorkers else { return }
        let scaler = PoolAutoscaler(spec: pool, shared: shared, probe: options.cpuProbe ?? ProcCPUProbe(), logger: logger)
        autoscalers.withLock { $0[pool.name] = scaler }
        scaler.start()
    }

    /// Applies a reload (see `ReloadPlan`): the engine carries out the plan on its own thread, and
    /// the autoscalers of removed, added and re-sized pools are replaced. Returns at once. A plan
    /// with refusals is ignored (the caller reports them).
    public func reload(_ request: ReloadRequest) {
        guard request.plan.refused.isEmpty else { return }
        let touched = Set(request.plan.stop + request.plan.start + request.plan.scale.map(\.name))
        let old = autoscalers.withLock { all in touched.compactMap { all.removeValue(forKey: $0) } }
        for scaler in old { scaler.cancel() }
        post(.reload(request))
        for pool in request.config.pools where touched.contains(pool.name) { startAutoscaler(pool) }
    }

    /// Starts (if needed) and waits until shutdown has completed.
    public func run() async throws(SupervisorError) {
        let started = shared.state.withLock { $0.started }
        if !started { try start() }
        await waitUntilFinished()
    }

    /// Returns once the engine has stopped every program and ended.
    public func waitUntilFinished() async { await shared.waitUntilFinished() }

    /// True once the engine has ended.
    public var isFinished: Bool { shared.state.withLock { $0.finished } }

    /// Queues a command for the engine thread and returns its answer slot. Thread-safe; never blocks.
    /// Every command is answered: `.shuttingDown` at once once shutdown began (except `.shutdown`).
    @discardableResult
    public func post(_ command: SupervisorCommand, options: CommandOptions = CommandOptions()) -> CommandReply {
        shared.post(command, options: options)
    }

    /// Posts a command and blocks the calling thread (never call it on the engine's) until the
    /// answer, or `timeout`. With `options.wait`, the answer comes once the action took effect.
    public func perform(_ command: SupervisorCommand, options: CommandOptions = CommandOptions(wait: true),
                        timeout: Duration = .seconds(30)) -> CommandOutcome {
        post(command, options: options).wait(timeout: timeout)
    }

    /// Names of every program, pool and pool worker (`jobs.0`), for "did you mean" and name checks.
    public func unitNames() -> [String] {
        let units = shared.state.withLock { Array($0.units.keys) }
        return Array(Set(units.map(\.program) + units.map(\.description))).sorted()
    }

    /// The supervisor settings this supervisor runs with.
    public var spec: SupervisorSpec { supervisorSpec }

    /// The pools this supervisor was started with (their min/max bounds).
    public var poolSpecs: [PoolSpec] { pools }

    /// The processes alive right now (updated on every spawn and reap), ordered by instance id.
    public func liveInstances() -> [InstanceInfo] {
        shared.state.withLock { Array($0.live.values) }.sorted { $0.id < $1.id }
    }

    /// Sessions (= pids) of the instances started since the last call, with the instance, so that the
    /// watcher can attribute orphans and cgroup OOM kills of instances that ended before it ever saw
    /// them alive.
    public func takeStartedSessions() -> [Int32: InstanceInfo] { shared.takeStartedSessions() }

    /// A pool's desired size as the engine last set it (from `min_workers`, `.setDesiredWorkers`
    /// or the autoscaler); nil for an unknown pool or before the engine started.
    public func desiredWorkers(pool: String) -> Int? {
        shared.state.withLock { $0.desired[pool] }
    }

    /// A pool's worker processes in the engine's process table (spawned and not yet reaped),
    /// including any that histd is stopping (scale-down, recycle) but whose exit has not come yet.
    public func liveWorkers(pool: String) -> [InstanceInfo] {
        liveInstances().filter { $0.program == pool }
    }

    /// Every unit's state, ordered by unit.
    public func status() -> [UnitStatus] {
        statusUnordered().sorted { $0.unit < $1.unit }
    }

    /// `status()` in no particular order: for a caller that orders the units itself (the metrics
    /// scrape, which should not sort 500 names by string on every scrape).
    public func statusUnordered() -> [UnitStatus] {
        shared.state.withLock { Array($0.units.values) }
    }
}
