#if canImport(Glibc)
import Glibc
#endif
import CShim
import HistModel
import HistSys

extension Engine {
    /// Collects every exit that is ready. Called on SIGCHLD and when a pidfd turns readable; the
    /// loop drains coalesced SIGCHLDs, so no exit is missed.
    func reapChildren() {
        reapPending = false
        killStragglersOfStoppedLeaders()
        switch options.reapScope {
        case .allChildren:
            while true {
                var status: Int32 = 0
                let pid = Sys.retrying { waitpid(-1, &status, WNOHANG) }
                if pid <= 0 { break }
                reaped(pid: pid, status: status)
            }
        case .supervisedOnly:
            for pid in Array(unitByPID.keys) {
                var status: Int32 = 0
                if Sys.retrying({ waitpid(pid, &status, WNOHANG) }) == pid { reaped(pid: pid, status: status) }
            }
        }
    }

    /// When a leader histd asked to stop has exited but is not reaped yet, its pid still pins its
    /// process group id, so SIGKILL to the group is safe: whatever the program left in its group
    /// dies with the stop. (After the reap that pgid could be reused.)
    private func killStragglersOfStoppedLeaders() {
        for unit in units.values where unit.state == .stopping && unit.spec.killMode == .tree {
            guard let p = unit.process, p.pidfd >= 0 else { continue }
            var pfd = pollfd(fd: p.pidfd, events: Int16(POLLIN), revents: 0)
            if poll(&pfd, 1, 0) == 1 { _ = killpg(p.pid, SIGKILL) }
        }
    }

    private func reaped(pid: Int32, status raw: Int32) {
        let status: ExitStatus = histd_wifsignaled(raw) != 0
            ? .signaled(signal: histd_wtermsig(raw), coreDumped: histd_wcoredump(raw) != 0)
            : .exited(code: histd_wexitstatus(raw))
        guard let key = unitByPID.removeValue(forKey: pid), let unit = units[key], let process = unit.process,
              process.pid == pid else {
            logger.debug("reaped pid \(pid) (\(status)): a descendant re-parented to histd")
            return
        }
        unit.process = nil
        timers.cancel(unit.ageTimer)
        unit.ageTimer = nil
        if process.pidfd >= 0 { unwatchAndClose(process.pidfd) }
        // The pipes may still hold the last words: drain them before building the stderr tail.
        for (fd, role) in roles {
            if case .pipe(let reader) = role, reader.output === unit.output {
                _ = fd
                readPipe(reader, budget: Self.drainBudgetAtExit)
            }
        }
        // What remains of its tree is stopped before the unit may spawn again (kill_mode = "tree").
        startDrain(unit, ended: process.info)
        let uptime = MonotonicInstant.now().sinceOrigin - process.startedAt
        // A SIGKILL histd did not send may be the kernel enforcing a cgroup limit (OOM killer).
        let limit = status.signal == SIGKILL ? resources.killedAtLimit(unit: unit.key, spec: unit.spec) : nil
        // An end within stop_timeout of an operator's signal is the operator's (a kernel limit kill still wins).
        let bySignal = unit.operatorSignalUntil.map { MonotonicInstant.now().sinceOrigin <= $0 } ?? false
        unit.operatorSignalUntil = nil
        let event: LifecycleEvent = limit.map { .exitedAtLimit(status: status, uptime: uptime, limit: $0) }
            ?? (bySignal ? .exitedOnOperatorSignal(status: status, uptime: uptime) : .exited(status: status, uptime: uptime))
        deliver(event, to: unit, ending: process)
        // Published after the exit was handled: a pool worker replaced at once (exit 0) shows
        // its old and new process together for a moment, never an empty pool.
        shared.instanceEnded(process.info.id)
    }
}
