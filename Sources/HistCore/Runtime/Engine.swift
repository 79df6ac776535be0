#if canImport(Glibc)
import Glibc
#endif
import CShim
import HistModel
import HistProc
import HistSys
import Logging

/// The supervisor's engine. Everything in here runs on one dedicated thread: an epoll loop over a
/// signalfd (SIGCHLD, and SIGTERM/SIGINT/SIGHUP), an eventfd for posted commands, a timerfd armed
/// for the nearest deadline, one pidfd per live process, and the pipes of children's output.
/// No state here is touched by another thread; `SharedState` is the only bridge.
final class Engine {
    var supervisorSpec: SupervisorSpec
    let sink: any HistorySink
    let logger: Logger
    let resources: any ProgramResources
    let options: SupervisorOptions
    let shared: SharedState
    let baseEnvironment: [String: String]
    /// sd_notify: READY=1 after startup, STOPPING=1 when shutdown begins.
    let notifier: ServiceNotifier

    var epfd: Int32 = -1
    var signalFD: Int32 = -1
    var timerFD: Int32 = -1
    var roles: [Int32: FDRole] = [:]

    var programs: [String: ProgramSpec] = [:]
    var pools: [String: PoolSpec] = [:]
    var desiredWorkers: [String: Int] = [:]
    /// Some pool unit changed: run the reconcile step at the top of the next loop iteration.
    var poolsDirty = false
    /// The operator action (`histctl scale`) behind a pool's pending resize: the next reconcile
    /// links the workers it starts and stops to it, then forgets it.
    var scaleActions: [String: UInt64] = [:]
    /// Draws each worker's age jitter (seedable through `SupervisorOptions.ageJitterSeed`).
    var ageRNG: SeededGenerator
    var units: [UnitKey: Unit] = [:]
    /// Units of the first start whose log files are still to be opened (`startUp`).
    var unopenedLogs: [Unit] = []
    var unitByPID: [Int32: UnitKey] = [:]
    var timers = TimerQueue<TimerKind>()
    var nextInstanceID: InstanceID = 1
    /// Sessions this run created (leader pid -> leader start ticks), for the final sweep. Bounded.
    var sessions: [Int32: UInt64] = [:]
    var sessionOrder: [Int32] = []
    /// histd's own pid, the parent of re-parented descendants.
    let ownPID = getpid()
    /// The marker every child inherits (`HISTD_RUN`), naming this histd process.
    let runMarker: RunMarker
    /// /proc reads for ownership (remnant scans): engine thread only, no fd cache.
    let ownershipProc = ProcFS()
    /// Ignored signals already logged once.
    var ignoredSignalsLogged: Set<Int32> = []

    enum Phase: Equatable {
        case running
        /// Stop groups left, ascending; `signalled` = the first group was sent its stop signals.
        case stoppingGroups([Int], signalled: Bool)
        case done
    }
    var phase: Phase = .running
    /// Operator commands waiting for their effect (see `PendingWait`).
    var waits: [PendingWait] = []
    var shutdownDeadlinePassed = false
    /// Units a reload removed, one group per stop_order (ascending); the first is being stopped.
    var reloadStops: [[UnitKey]] = []
    var reloadStopSignalled = false
    var reapPending = false

    /// One read buffer for every pipe.
    let readBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 * 1024, alignment: 16)
    /// Bytes read from one pipe per wakeup, so one noisy child cannot starve the others.
    static let readBudgetPerWakeup = 64 * 1024
    /// Bytes drained from a pipe at its process's exit, before building the stderr tail.
    static let drainBudgetAtExit = 1 << 20

    init(programs: [ProgramSpec], pools: [PoolSpec], supervisorSpec: SupervisorSpec, sink: any HistorySink,
         logger: Logger, resources: any ProgramResources, options: SupervisorOptions, shared: SharedState,
         baseEnvironment: [String: String]) {
        self.supervisorSpec = supervisorSpec
        self.sink = sink
        self.logger = logger
        self.resources = resources
        self.options = options
        self.shared = shared
        // $NOTIFY_SOCKET is histd's own line to systemd; the programs must not report for it.
        notifier = ServiceNotifier(environment: baseEnvironment)
        self.baseEnvironment = baseEnvironment.filter { $0.key != "NOTIFY_SOCKET" }
        for p in programs { self.programs[p.name] = p }
        for p in pools { self.pools[p.name] = p }
        ageRNG = options.ageJitterSeed.map { SeededGenerator(seed: $0) } ?? SeededGenerator()
        runMarker = RunMarker(key: options.ownerKey, owner: ProcessIdentity(pid: getpid(), startTicks: histd_proc_start_ticks(getpid())),
                              engine: UInt64.random(in: 1...UInt64.max))
    }

    deinit { readBuffer.deallocate() }

    // MARK: - Setup

    private func setUp() -> Bool {
        // signalfd only sees signals blocked in this thread. (`histd run` blocks them in every
        // thread before any starts; blocking here too keeps an embedded engine correct.)
        var signals: [Int32] = [SIGCHLD]
        if options.handleSignals { signals = SignalPolicy.handled }
        _ = histd_block_signals(signals, Int32(signals.count))
        epfd = histd_epoll_create()
        signalFD = histd_signalfd(signals, Int32(signals.count))
        timerFD = histd_timerfd_create()
        guard epfd >= 0, signalFD >= 0, timerFD >= 0 else {
            logger.critical("engine setup failed: \(Sys.errnoText(errno))")
            return false
        }
        watch(signalFD, .signals)
        if options.handleSignals {
            let pipeFD = SignalPipe.fd.withLock { $0 }
            if pipeFD >= 0 { watch(pipeFD, .signalPipe) }
        }
        watch(shared.wakeFD, .commands)
        watch(timerFD, .timer)
        if let problem = FileSafety.makeDirectories(supervisorSpec.logDir, group: supervisorSpec.groupID) {
            logger.error("log_dir: \(problem)")
        }
        return true
    }

    func watch(_ fd: Int32, _ role: FDRole) {
        if histd_epoll_add(epfd, fd, UInt64(UInt32(bitPattern: fd))) == 0 {
            roles[fd] = role
        } else {
            logger.error("epoll_ctl(ADD, fd \(fd)) failed: \(Sys.errnoText(errno))")
        }
    }

    func unwatchAndClose(_ fd: Int32) {
        guard fd >= 0 else { return }
        _ = histd_epoll_del(epfd, fd)
        roles[fd] = nil
        Sys.close(fd)
    }

    // MARK: - Loop

    /// How many units' deferred log files one loop iteration opens (two files each).
    static let logOpensPerIteration = 8

    /// Runs until shutdown completes.
    func run() {
        guard setUp() else {
            shared.markFinished()
            return
        }
        startUp()
        // Every autostart program has been spawned (or its spawn failed and is in backoff) by now.
        notifier.send("READY=1\nSTATUS=supervising \(units.count) unit(s)\nMAINPID=\(getpid())")
        var tags = [UInt64](repeating: 0, count: 64)
        var masks = [UInt32](repeating: 0, count: 64)
        while true {
            fireDueTimers()
            reconcilePools()
            settleWaits()
            advanceReloadStops()
            advanceShutdown()
            if phase == .done { break }
            armTimerFD()
            // Log files still to open: a few per iteration, so exits and commands wait for at most a
            // few file creations; the wait does not block while some remain.
            if !unopenedLogs.isEmpty { openDeferredLogs(limit: Self.logOpensPerIteration) }
            let idleWait: Int32 = unopenedLogs.isEmpty ? -1 : 0
            let n = Sys.retrying { histd_epoll_wait(epfd, &tags, &masks, 64, idleWait) }
            if n < 0 {
                logger.critical("epoll_wait failed: \(Sys.errnoText(errno)); shutting down")
                beginShutdown(cause: "engine error")
                continue
            }
            for i in 0..<Int(n) {
                let fd = Int32(truncatingIfNeeded: tags[i])
                guard let role = roles[fd] else { continue }
                switch role {
                case .signals: readSignals()
                case .signalPipe: readSignalPipe(fd)
                case .commands: for c in shared.takeCommands() { handle(c) }
                case .timer:
                    var expirations: UInt64 = 0
                    _ = Glibc.read(timerFD, &expirations, 8)
                case .pidfd: reapPending = true
                case .pipe(let reader): _ = readPipe(reader, budget: Self.readBudgetPerWakeup)
                }
            }
            if reapPending { reapChildren() }
        }
        tearDown()
    }

    private func readSignals() {
        while true {
            var pid: Int32 = 0
            var uid: UInt32 = 0
            let sig = histd_signalfd_read_sender(signalFD, &pid, &uid)
            if sig <= 0 { return }
            received(sig, sender: SignalSender(signal: sig, pid: pid, uid: uid))
        }
    }

    private func readSignalPipe(_ fd: Int32) {
        // Whole 12-byte records only (each was written atomically; a read never splits one when the
        // buffer is a multiple of the record size).
        var records = [Int32](repeating: 0, count: 3 * 16)
        while true {
            let n = records.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n <= 0 { return }
            for r in 0..<(n / 12) {
                let sig = records[3 * r]
                received(sig, sender: SignalSender(signal: sig, pid: records[3 * r + 1], uid: UInt32(bitPattern: records[3 * r + 2])))
            }
        }
    }

    private func received(_ sig: Int32, sender: SignalSender) {
        switch SignalPolicy.action(for: sig) {
        case .reap: reapPending = true
        case .shutdown:
            logger.notice("received \(SignalName.name(sig)): shutting down")
            beginShutdown(cause: SignalName.name(sig))
        case .reload:
            guard let onHangup = options.onHangup else {
                logger.notice("received SIGHUP from pid \(sender.pid) (uid \(sender.uid)): no reload handler; ignored")
                return
            }
            guard phase == .running else {
                logger.notice("received SIGHUP from pid \(sender.pid) (uid \(sender.uid)) during shutdown; ignored")
                return
            }
            logger.notice("received SIGHUP from pid \(sender.pid) (uid \(sender.uid)): reloading the config")
            // The handler loads and plans on its own thread and posts `.reload` back: the engine never waits.
            onHangup(sender)
        case .reopenLogs:
            for unit in units.values { unit.output.reopen() }
            logger.notice("received SIGUSR1: reopened the log files of \(units.count) unit(s)")
        case .ignore:
            if ignoredSignalsLogged.insert(sig).inserted {
                logger.notice("received \(SignalName.name(sig)): ignored (logged once per signal)")
            }
        }
    }

    private func armTimerFD() {
        // Absolute CLOCK_MONOTONIC time; a deadline already past still fires (1 ns minimum); 0 disarms.
        let ns = timers.nextDeadline.map { UInt64(max($0.nanoseconds, 1)) } ?? 0
        _ = histd_timerfd_set_absolute(timerFD, ns)
    }

    private func fireDueTimers() {
        let now = MonotonicInstant.now().sinceOrigin
        while let entry = timers.popDue(now: now) {
            switch entry.payload {
            case .backoff(let key):
                guard let unit = units[key], unit.restartTimer == entry.id else { continue }
                unit.restartTimer = nil
                deliver(.backoffElapsed, to: unit)
            case .stopTimeout(let key):
                guard let unit = units[key], unit.killTimer == entry.id else { continue }
                unit.killTimer = nil
                deliver(.stopTimeoutElapsed, to: unit)
            case .workerAge(let key, let instance):
                guard let unit = units[key], unit.ageTimer == entry.id else { continue }
                unit.ageTimer = nil
                workerReachedMaxAge(unit, instance: instance)
            case .shutdownDeadline:
                shutdownDeadlineReached()
            case .drainCheck(let key):
                guard let unit = units[key], unit.drain?.checkTimer == entry.id else { continue }
                checkDrain(unit)
            case .drainDeadline(let key):
                guard let unit = units[key], unit.drain?.deadlineTimer == entry.id else { continue }
                drainDeadline(unit)
            case .spawnRetry(let key):
                guard let unit = units[key], unit.restartTimer == entry.id else { continue }
                unit.restartTimer = nil
                deliver(.backoffElapsed, to: unit)
            }
        }
    }

    private func tearDown() {
        openDeferredLogs()  // a shutdown right after the start still leaves every start marker in its file
        for unit in units.values { resources.cleanup(unit: unit.key, spec: unit.spec) }
        for (fd, role) in roles where fd != shared.wakeFD {
            if case .signalPipe = role { _ = histd_epoll_del(epfd, fd); continue }  // process-wide, stays open
            unwatchAndClose(fd)
        }
        Sys.close(epfd)
        logger.notice("all programs stopped; engine finished")
        shared.markFinished()
    }

    // MARK: - Output

    /// Reads up to `budget` bytes from a pipe into its unit's logs. Returns true at EOF or error
    /// (the pipe is then closed), false when it would block or the budget is spent.
    @discardableResult
    func readPipe(_ reader: PipeReader, budget: Int) -> Bool {
        var left = budget
        while left > 0 {
            let n = Sys.retrying { Glibc.read(reader.fd, readBuffer.baseAddress, min(readBuffer.count, left)) }
            if n > 0 {
                reader.output.write(UnsafeRawBufferPointer(rebasing: readBuffer[0..<n]), stderr: reader.isStderr)
                left -= n
                continue
            }
            if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) { return false }
            unwatchAndClose(reader.fd)
            return true
        }
        return false
    }

    /// Next instance id.
    func makeInstanceID() -> InstanceID {
        defer { nextInstanceID += 1 }
        return nextInstanceID
    }

    func rememberSession(_ pid: Int32, startTicks: UInt64) {
        sessions[pid] = startTicks
        sessionOrder.append(pid)
        if sessionOrder.count > 4096 {
            let old = sessionOrder.removeFirst()
            if unitByPID[old] == nil { sessions[old] = nil }
        }
    }
}
