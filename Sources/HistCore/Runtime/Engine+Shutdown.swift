#if canImport(Glibc)
import Glibc
#endif
import HistModel
import HistSys

extension Engine {
    /// Starts the ordered shutdown: nothing restarts from now on; units waiting in backoff stop at
    /// once; then groups stop one at a time in ascending `stop_order` (see `advanceShutdown`).
    func beginShutdown(cause: String) {
        guard phase == .running else { return }
        let groups = Array(Set(units.values.map(\.spec.stopOrder))).sorted()
        phase = .stoppingGroups(groups, signalled: false)
        shared.markShuttingDown()
        abandonWaits()
        notifier.send("STOPPING=1\nSTATUS=shutting down (\(cause))")
        logger.notice("shutdown (\(cause)): stopping \(groups.count) group(s) in stop_order \(groups), timeout \(HistDuration.format(supervisorSpec.shutdownTimeout))")
        timers.schedule(at: MonotonicInstant.now().sinceOrigin + supervisorSpec.shutdownTimeout, .shutdownDeadline)
        for unit in units.values.sorted(by: { $0.key < $1.key }) where unit.process == nil {
            deliver(.stopRequested(.shutdown), to: unit)
        }
    }

    /// Moves the shutdown forward: a group receives its stop signals only once every process of
    /// the groups before it has been reaped.
    func advanceShutdown() {
        while case .stoppingGroups(var groups, let signalled) = phase {
            guard let group = groups.first else {
                sweepDescendants()
                phase = .done
                return
            }
            let members = units.values.filter { $0.spec.stopOrder == group }.sorted { $0.key < $1.key }
            if !signalled {
                let live = members.filter { $0.process != nil }
                if !live.isEmpty { logger.notice("stopping group \(group): \(live.map(\.key.description).joined(separator: ", "))") }
                for unit in members { deliver(.stopRequested(.shutdown), to: unit) }
                phase = .stoppingGroups(groups, signalled: true)
            }
            if members.contains(where: { $0.process != nil || $0.drain != nil }) { return }
            groups.removeFirst()
            phase = .stoppingGroups(groups, signalled: false)
        }
    }

    /// `shutdown_timeout` passed: every process still running is stopped and killed now.
    func shutdownDeadlineReached() {
        guard case .stoppingGroups = phase else { return }
        logger.warning("shutdown did not finish within \(HistDuration.format(supervisorSpec.shutdownTimeout)): SIGKILL to everything left")
        for unit in units.values.sorted(by: { $0.key < $1.key }) where unit.process != nil {
            deliver(.stopRequested(.shutdown), to: unit)
            deliver(.stopTimeoutElapsed, to: unit)
        }
        escalateDrains()
    }

    /// After the last group: kill and reap whatever descendants of our programs are left (daemons
    /// that double-forked, children of crashed programs), so nothing histd started outlives it.
    func sweepDescendants() {
        let sweep = DescendantSweep(ownPID: getpid(), sessions: sessions,
                                    includeAllChildren: options.reapScope == .allChildren, marker: runMarker)
        let found = sweep.findLeftovers()
        guard !found.isEmpty else { return }
        logger.notice("stopping \(found.count) leftover descendant(s): \(found.map { String($0.pid) }.joined(separator: ", "))")
        var programOfUnit: [String: String] = [:]
        for key in units.keys { programOfUnit[key.description] = key.program }
        for p in sweep.terminate(found, grace: options.descendantGrace, logger: logger) where p.signal != 0 {
            // Attributed to its program through its marker; a process without one (re-parented, marker
            // cleared) is recorded with no program.
            let program = p.unit.flatMap { programOfUnit[$0] } ?? ""
            let swept = SweptProcess(identity: ProcessIdentity(pid: p.pid, startTicks: p.startTicks), instance: nil,
                                     signal: p.signal, reason: .shutdown, gone: p.gone)
            sink.record(HistEvent(program: program, payload: .swept(swept)))
        }
        // Reap the ones that are our children (re-parented to histd as subreaper).
        for p in found where p.ppid == getpid() {
            var status: Int32 = 0
            _ = Sys.retrying { waitpid(p.pid, &status, WNOHANG) }
        }
        if options.reapScope == .allChildren {
            var status: Int32 = 0
            while Sys.retrying({ waitpid(-1, &status, WNOHANG) }) > 0 {}
        }
    }
}
