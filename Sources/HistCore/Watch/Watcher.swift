#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import Foundation
import HistModel
import HistProc
import Logging
import Synchronization
import HistSys

/// Watches what supervised programs do between their start and their exit: every
/// `snapshot_interval` it samples each live instance's process tree (recorded as a sweep) and
/// checks `max_memory_mb`, polls cgroup OOM kills and pids-limit hits; every `scan_interval` it
/// scans /proc for zombies and orphans. It runs on its own thread, so a slow /proc never delays
/// the engine's exit handling, and it talks to the engine only through `Supervisor.post`.
public final class Watcher: Sendable {
    private let wake = DispatchSemaphore(value: 0)
    private let stopped = Mutex(false)
    private let finished = DispatchSemaphore(value: 0)
    /// The watcher's work. The Mutex only hands it to the watcher thread, which holds it for its life.
    private let loop: Mutex<WatchLoop>
    /// New specs from a reload, taken by the watcher thread before its next sweep.
    private let specUpdate = SpecUpdate()

    /// - Parameters:
    ///   - specs: every program and pool worker spec by name (limits are read from them).
    ///   - cgroups: the cgroup hook given to the supervisor, polled for OOM kills; nil without cgroups.
    public init(supervisor: Supervisor, specs: [String: ProgramSpec], spec: SupervisorSpec, sink: any HistorySink,
                cgroups: CgroupResources?, logger: Logger, procRoot: String = "/proc") {
        let procfs = ProcFS(root: procRoot, cacheLimit: FileLimit.cacheBudget())
        // The scanner keeps its stat fds too (pread instead of open/read/close: about half the cost of a
        // scan). A kept fd no longer makes spawning dearer (histd_spawn's child copies only the fds below
        // its slots), and one of a process that has exited fails its next pread and is closed then.
        loop = Mutex(WatchLoop(sampler: TreeSampler(procfs: procfs),
                               scanner: SystemScanner(procfs: ProcFS(root: procRoot, cacheLimit: FileLimit.cacheBudget()),
                                                      orphanIgnore: spec.orphanIgnore),
                               supervisor: supervisor, specs: specs, spec: spec, sink: sink, cgroups: cgroups, logger: logger,
                               specUpdate: specUpdate))
    }

    /// Starts the watcher thread. With sampling, limits and scans all off it only waits for `stop()`.
    public func start() {
        let thread = Thread.named("histd-watch") { [self] in
            loop.withLock { $0.run(shouldStop: { self.stopped.withLock { $0 } }, wait: { self.wait(until: $0) }) }
            finished.signal()
        }
        thread.start()
    }

    /// Replaces the specs limits are read from (after a reload): `max_memory_mb` changes apply from the next sweep.
    public func update(specs: [String: ProgramSpec]) {
        specUpdate.pending.withLock { $0 = specs }
    }

    /// Stops the thread and waits for it (a sweep in progress completes first).
    public func stop() {
        stopped.withLock { $0 = true }
        wake.signal()
        finished.wait()
    }

    private func wait(until deadline: MonotonicInstant?) {
        guard let deadline else { wake.wait(); return }
        let now = MonotonicInstant.now()
        guard deadline > now else { return }
        _ = wake.wait(timeout: .now() + .nanoseconds(Int(min(deadline.since(now).nanoseconds, Int64(Int.max)))))
    }

    /// The watcher's work, confined to its thread. (ProcFS, TreeSampler and SystemScanner are not
    /// thread-safe; only the watcher thread ever touches them.)
    private struct WatchLoop: @unchecked Sendable {
        let sampler: TreeSampler
        let scanner: SystemScanner
        let supervisor: Supervisor
        var specs: [String: ProgramSpec]
        let spec: SupervisorSpec
        let sink: any HistorySink
        let cgroups: CgroupResources?
        let logger: Logger
        let specUpdate: SpecUpdate
        let selfPid = getpid()

        /// Instances already reported for a limit, so one breach is posted once.
        var breached: Set<InstanceID> = []
        /// Program by session id (= instance root pid), kept after the instance ends so that
        /// descendants it leaves behind are attributed; bounded.
        var programBySession: [Int32: String] = [:]
        /// The newest instance per program/worker, alive or not, for attributing cgroup OOM kills.
        var lastInstance: [UnitKey: InstanceInfo] = [:]
        /// The live instances of the last sweep, by id (what it has learned already).
        var previousLive: [InstanceID: InstanceInfo] = [:]
        /// Whether some program has `max_memory_mb`: without one, no sample needs its program's spec.
        var anyMemoryLimit: Bool { specs.values.contains { ($0.maxMemoryMB ?? 0) > 0 } }
        var oomCounts: [UnitKey: Int64] = [:]
        var pidsHits: [UnitKey: Int64] = [:]


        /// Sampling runs at `snapshot_interval`; with snapshots off it still runs every second when
        /// a program has a limit to enforce, without recording sweeps.
        var sampleInterval: Duration? {
            if let i = spec.snapshotInterval { return i }
            let needsLimits = specs.values.contains { $0.maxMemoryMB != nil || $0.cgroup != nil }
            return needsLimits ? .seconds(1) : nil
        }

        mutating func run(shouldStop: () -> Bool, wait: (MonotonicInstant?) -> Void) {
            let sampleEvery = sampleInterval
            let scanEvery = spec.scanInterval
            var nextSample: MonotonicInstant? = sampleEvery.map { MonotonicInstant.now().adding($0) }
            // The first scan comes soon after startup, so a short run still has one.
            var nextScan: MonotonicInstant? = scanEvery.map { MonotonicInstant.now().adding(min($0, .seconds(1))) }
            while !shouldStop() {
                let now = MonotonicInstant.now()
                if let due = nextSample, due <= now, let every = sampleEvery {
                    sweep()
                    nextSample = Self.next(after: due, every: every, now: now)
                }
                if let due = nextScan, due <= now, let every = scanEvery {
                    scan()
                    nextScan = Self.next(after: due, every: every, now: now)
                }
                wait([nextSample, nextScan].compactMap { $0 }.min())
            }
        }

        /// Keeps a fixed cadence, but never tries to catch up on missed ticks.
        static func next(after due: MonotonicInstant, every: Duration, now: MonotonicInstant) -> MonotonicInstant {
            let next = due.adding(every)
            return next > now ? next : now.adding(every)
        }

        mutating func sweep() {
            if let updated = specUpdate.pending.withLock({ p -> [String: ProgramSpec]? in defer { p = nil }; return p }) {
                specs = updated
            }
            let time = Timestamp.now()
            let live = supervisor.liveInstances()
            takeStarted()
            var byID: [InstanceID: InstanceInfo] = Dictionary(minimumCapacity: live.count)
            for info in live {
                byID[info.id] = info
                // Learned once per instance, at the first sweep that sees it (takeStarted usually has by
                // then): hashing every live program name again each second was a few % of the sweep.
                if previousLive[info.id] == nil {
                    programBySession[info.identity.pid] = info.program
                    note(info)
                }
            }
            previousLive = byID
            if programBySession.count > 20_000 {
                // Keep only live sessions when the map grows large; a very old ended instance's
                // leftovers then go unattributed rather than histd growing without bound.
                programBySession = Dictionary(uniqueKeysWithValues: live.map { ($0.identity.pid, $0.program) })
            }
            let began = ContinuousClock.now
            let samples = sampler.sample(live.map { (instance: $0.id, identity: $0.identity) })
            let took = ContinuousClock.now - began
            if spec.snapshotInterval != nil, !samples.isEmpty {
                sink.record(SnapshotSweep(time: time, samples: samples, duration: took))
            }
            breached.formIntersection(byID.keys)
            let checkLimits = anyMemoryLimit
            for sample in samples where checkLimits {
                guard let info = byID[sample.instance], let programSpec = specs[info.program],
                      !breached.contains(info.id), let breach = LimitChecker.check(programSpec, sample) else { continue }
                breached.insert(info.id)
                logger.warning("\(info.program)[\(info.identity.pid)]: \(breach.limit) exceeded (\(breach.observed / 1_048_576) MiB > \(breach.threshold / 1_048_576) MiB) — stopping it")
                supervisor.post(.limitBreached(instance: info.id, limit: breach.limit, observed: breach.observed,
                                               threshold: breach.threshold))
            }
            pollCgroups(time: time)
        }

        /// Learns the instances started since the last sweep or scan (whichever took them), alive or
        /// not by now: their sessions, for orphans, and the newest per unit, for cgroup OOM kills. A
        /// process the kernel kills at its memory_max within its first 100 ms is never in a sample,
        /// and its breach would otherwise name no instance (CI saw it).
        mutating func takeStarted() {
            for info in supervisor.takeStartedSessions().values {
                programBySession[info.identity.pid] = info.program
                note(info)
            }
        }

        /// Keeps `info` as its unit's newest instance unless a newer one is known (ids only grow).
        mutating func note(_ info: InstanceInfo) {
            let unit = UnitKey(program: info.program, workerIndex: info.workerIndex)
            if let known = lastInstance[unit], known.id > info.id { return }
            lastInstance[unit] = info
        }

        /// Records OOM kills and refused forks that the kernel enforced inside cgroups.
        mutating func pollCgroups(time: Timestamp) {
            guard let cgroups else { return }
            for (unit, controller) in cgroups.allControllers() {
                let limits = specs[unit.program]?.cgroup
                let instance = lastInstance[unit]
                if let oom = controller.oomKillCount() {
                    let before = oomCounts[unit] ?? 0
                    oomCounts[unit] = oom
                    if oom > before {
                        let threshold = limits?.memoryMax ?? 0
                        logger.warning("\(unit): the kernel OOM-killed \(oom - before) process(es) in its cgroup (memory_max \(threshold) bytes)")
                        sink.record(HistEvent(time: time, program: unit.program, payload: .limitBreach(
                            instance: instance, limit: .cgroupMemory, observed: controller.memoryCurrent() ?? threshold,
                            threshold: threshold, action: .oomKill)))
                    }
                }
                if let hits = controller.pidsLimitHits() {
                    let before = pidsHits[unit] ?? 0
                    pidsHits[unit] = hits
                    if hits > before {
                        let threshold = Int64(limits?.tasksMax ?? 0)
                        logger.warning("\(unit): tasks_max \(threshold) refused \(hits - before) fork(s)")
                        sink.record(HistEvent(time: time, program: unit.program, payload: .limitBreach(
                            instance: instance, limit: .tasksMax, observed: Int64(controller.pids().count),
                            threshold: threshold, action: .forkRefused, refused: hits - before)))
                    }
                }
            }
        }

        mutating func scan() {
            let live = supervisor.liveInstances()
            // Instances that started and ended between two samples (a daemon's double fork) too.
            takeStarted()
            for info in live { programBySession[info.identity.pid] = info.program }
            let view = SupervisorView(pid: selfPid, spawned: Set(live.map(\.identity)), programBySession: programBySession)
            sink.record(scanner.scan(at: .now(), supervisor: view))
        }
    }
}

/// The hand-over of reloaded specs to the watcher thread.
final class SpecUpdate: Sendable {
    let pending = Mutex<[String: ProgramSpec]?>(nil)
}
