#if canImport(Glibc)
import Glibc
#endif
import CShim
import HistModel
import HistSys
import Synchronization

/// The only state shared between the engine thread and other threads: the command queue (with
/// the eventfd that wakes the engine) and the published snapshot of units and live instances.
final class SharedState: Sendable {
    struct Published {
        var commands: [CommandRequest] = []
        var units: [UnitKey: UnitStatus] = [:]
        var live: [InstanceID: InstanceInfo] = [:]
        /// Session id (= instance pid, every instance runs in its own session) -> instance, of
        /// instances started since the watcher last took them: an instance that forks a daemon and
        /// exits before any sample is still known when its orphan is found, and one the kernel
        /// OOM-kills in its cgroup before any sample is still named by the breach.
        var startedSessions: [Int32: InstanceInfo] = [:]
        /// Each pool's desired size, as the engine last set it.
        var desired: [String: Int] = [:]
        /// True once shutdown began (autoscalers stop deciding).
        var shuttingDown = false
        var started = false
        var finished = false
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    let state = Mutex(Published())
    /// eventfd the engine polls; written after each posted command.
    let wakeFD: Int32

    init() throws(SupervisorError) {
        wakeFD = histd_eventfd_create()
        guard wakeFD >= 0 else { throw SupervisorError(.setupFailed, "eventfd: \(Sys.errnoText(errno))") }
    }

    deinit { Sys.close(wakeFD) }

    /// Queues a command; answers `.shuttingDown` at once (never drops it) once shutdown began or the
    /// engine ended. The check and the append share the lock with `markFinished`, so no command can
    /// slip in after the engine's last look at the queue.
    @discardableResult
    func post(_ command: SupervisorCommand, options: CommandOptions = CommandOptions()) -> CommandReply {
        let reply = CommandReply()
        let queued = state.withLock { s -> Bool in
            if s.finished || (s.shuttingDown && command != .shutdown) { return false }
            s.commands.append(CommandRequest(command: command, options: options, reply: reply))
            return true
        }
        guard queued else {
            reply.complete(.shuttingDown)
            return reply
        }
        var one: UInt64 = 1
        _ = withUnsafeBytes(of: &one) { Glibc.write(wakeFD, $0.baseAddress, 8) }
        return reply
    }

    func takeCommands() -> [CommandRequest] {
        var buf: UInt64 = 0
        _ = Glibc.read(wakeFD, &buf, 8)
        return state.withLock { s in
            defer { s.commands.removeAll() }
            return s.commands
        }
    }

    func publish(_ status: UnitStatus, removed: Bool = false) {
        state.withLock { s in
            if removed { s.units[status.unit] = nil } else { s.units[status.unit] = status }
        }
    }

    /// Bound on `startedSessions` when nobody takes them (sampling and scans off).
    static let startedSessionsLimit = 4096

    func instanceStarted(_ info: InstanceInfo) {
        state.withLock { s in
            s.live[info.id] = info
            if s.startedSessions.count >= Self.startedSessionsLimit { s.startedSessions.removeAll(keepingCapacity: true) }
            s.startedSessions[info.identity.pid] = info
        }
    }

    func takeStartedSessions() -> [Int32: InstanceInfo] {
        state.withLock { s in
            defer { s.startedSessions.removeAll(keepingCapacity: true) }
            return s.startedSessions
        }
    }

    func publishDesired(pool: String, count: Int) { state.withLock { $0.desired[pool] = count } }
    func markShuttingDown() { state.withLock { $0.shuttingDown = true } }
    func instanceEnded(_ id: InstanceID) { state.withLock { _ = $0.live.removeValue(forKey: id) } }

    func markFinished() {
        let (waiters, unanswered) = state.withLock { s in
            s.finished = true
            defer {
                s.waiters.removeAll()
                s.commands.removeAll()
            }
            return (s.waiters, s.commands)
        }
        for r in unanswered { r.reply.complete(.shuttingDown) }
        for w in waiters { w.resume() }
    }

    func waitUntilFinished() async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let done = state.withLock { s in
                if s.finished { return true }
                s.waiters.append(c)
                return false
            }
            if done { c.resume() }
        }
    }
}

/// Errors of the engine itself (not of the programs: their failures are events).
public struct SupervisorError: Error, CustomStringConvertible, Sendable {
    public enum Code: Sendable, Hashable {
        case setupFailed
        case alreadyStarted
        case duplicateName
    }
    public var code: Code
    public var message: String
    init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }
    public var description: String { message }
}
