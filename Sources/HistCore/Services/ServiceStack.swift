import Dispatch
import HistModel
import Logging
import Synchronization

/// The process-level lifecycle of `histd run`: services start one at a time in the order they are
/// given, and stop in the reverse order, each within its `stopBudget` (time a quick stop leaves over
/// carries to the next). A start that fails stops, in reverse, every service already started, so no
/// error path leaves a socket file, a cgroup parent or an open run behind.
///
/// Why not swift-service-lifecycle's `ServiceGroup`: it runs every service's `run()` at once in a task
/// group, with no "started" point to wait for, so "the writer has recorded the run before the engine
/// starts a program" cannot be said; it installs its own SIGTERM/SIGINT handling, while histd blocks
/// those signals in every thread and the engine reads them from a signalfd (`Supervisor.prepareProcess`);
/// and histd's components are threads, not async services, so each would need an adapter that parks a
/// task for the process's life. This stack is ~150 lines, has an explicit `State`, and adds no package
/// (ServiceGroup costs ~34 s of clean build on CI).
public final class ServiceStack: Sendable {
    /// Where the stack is. `start` is allowed in `idle` and `running`; after `stopping` nothing starts
    /// again, so nothing can start that would never be stopped.
    public enum State: Sendable, Equatable {
        case idle
        /// Starting the named service.
        case starting(String)
        /// Every service given so far has started.
        case running
        case stopping
        case stopped
    }

    /// A service's start threw. Every service started before it has been stopped by then.
    public struct StartFailure: Error, CustomStringConvertible {
        public let service: String
        public let underlying: any Error
        public var description: String { "\(service): \(underlying)" }
    }

    /// `start` after the stack began to stop.
    public struct Closed: Error, CustomStringConvertible {
        public let service: String
        public var description: String { "\(service) not started: shutdown has begun" }
    }

    /// How one service's stop went.
    public struct StopOutcome: Sendable, Equatable {
        public let service: String
        /// False when its stop did not return by its deadline; the stack went on to the next service
        /// (the stop keeps running on its own thread until the process exits).
        public let inTime: Bool
    }

    private struct Inner {
        var state: State = .idle
        /// Started services, in start order.
        var started: [Service] = []
    }
    private let inner = Mutex(Inner())
    private let logger: Logger

    public init(logger: Logger) { self.logger = logger }

    public var state: State { inner.withLock { $0.state } }

    /// Names of the services started and not yet stopped, in start order.
    public var running: [String] { inner.withLock { $0.started.map(\.name) } }

    /// Starts `services` in order. On the first failure every service started so far (these and
    /// earlier ones) is stopped in reverse, and `StartFailure` is thrown.
    public func start(_ services: [Service]) async throws {
        for service in services { try await start(service) }
    }

    /// Starts one service after those already started.
    public func start(_ service: Service) async throws {
        let allowed = inner.withLock { s -> Bool in
            switch s.state {
            case .idle, .running: s.state = .starting(service.name); return true
            case .starting, .stopping, .stopped: return false
            }
        }
        guard allowed else { throw Closed(service: service.name) }
        let result = await withCheckedContinuation { (c: CheckedContinuation<Result<Void, any Error>, Never>) in
            service.startBody.launch(name: service.name) { c.resume(returning: $0) }
        }
        switch result {
        case .success:
            inner.withLock { s in
                s.started.append(service)
                s.state = .running
            }
        case .failure(let error):
            logger.error("\(service.name) did not start: \(error); stopping what started before it")
            _ = await stop()
            throw StartFailure(service: service.name, underlying: error)
        }
    }

    /// Stops every started service in reverse start order and returns how each went. Service i (in
    /// stop order) has until `t0 + budget[0] + ... + budget[i]`, so time a quick stop leaves over goes
    /// to the next one, and never less than its own budget from when its stop begins. Later calls return `[]`.
    public func stop() async -> [StopOutcome] {
        let services = inner.withLock { s -> [Service] in
            guard s.state != .stopping, s.state != .stopped else { return [] }
            s.state = .stopping
            return s.started.reversed()
        }
        var deadline = MonotonicInstant.now()
        var outcomes: [StopOutcome] = []
        for service in services {
            // Never less than its own budget from when its stop begins: a stack delayed on a starved box
            // must not count a stop as overrun before the stop had its turn.
            deadline = max(deadline.adding(service.stopBudget), MonotonicInstant.now().adding(service.stopBudget))
            let inTime = await Self.run(service, until: deadline)
            if !inTime {
                logger.error("\(service.name) did not stop within its \(service.stopBudget); going on with the rest of the shutdown")
            }
            inner.withLock { s in _ = s.started.popLast() }
            outcomes.append(StopOutcome(service: service.name, inTime: inTime))
        }
        inner.withLock { $0.state = .stopped }
        return outcomes
    }

    /// Runs the service's stop; true if it returned by `deadline`.
    private static func run(_ service: Service, until deadline: MonotonicInstant) async -> Bool {
        await withCheckedContinuation { (c: CheckedContinuation<Bool, Never>) in
            let once = ResumeOnce(c)
            service.stopBody.launch(name: service.name) { _ in once.resume(true) }
            let wait = deadline.since(.now())
            DispatchQueue.global().asyncAfter(deadline: .now() + .nanoseconds(Int(wait.nanoseconds))) { once.resume(false) }
        }
    }
}

extension ServiceStack {
    /// Starts a component made by `start` (async), stopped by `stop`, and returns it: the shape of
    /// `histd run`, where what one start makes (the recorder, the supervisor) is what later ones use.
    public func start<T: Sendable>(_ name: String, stopBudget: Duration = Service.defaultStopBudget,
                                   start: @escaping @Sendable () async throws -> T,
                                   stop: @escaping @Sendable (T) async -> Void) async throws -> T {
        let slot = Slot<T>()
        try await self.start(Service(name, stopBudget: stopBudget,
                                     start: { slot.put(try await start()) },
                                     stop: { if let value = slot.take() { await stop(value) } }))
        return try slot.started(name)
    }

    /// The same for a component whose start and stop block: each runs on a thread of its own.
    public func startBlocking<T: Sendable>(_ name: String, stopBudget: Duration = Service.defaultStopBudget,
                                           start: @escaping @Sendable () throws -> T,
                                           stop: @escaping @Sendable (T) -> Void) async throws -> T {
        let slot = Slot<T>()
        try await self.start(.blocking(name, stopBudget: stopBudget,
                                       start: { slot.put(try start()) },
                                       stop: { if let value = slot.take() { stop(value) } }))
        return try slot.started(name)
    }
}

/// What a start made, until its stop takes it.
private final class Slot<T: Sendable>: Sendable {
    private let value = Mutex<T?>(nil)
    func put(_ v: T) { value.withLock { $0 = v } }
    func take() -> T? { value.withLock { v in defer { v = nil }; return v } }
    /// The value after a successful start (a stop that ran already, for a stack stopped meanwhile, took it).
    func started(_ name: String) throws -> T {
        if let v = value.withLock({ $0 }) { return v }
        throw ServiceStack.Closed(service: name)
    }
}

/// A continuation two parties race to resume (the stop, the deadline): the first wins.
private final class ResumeOnce: Sendable {
    private let continuation: Mutex<CheckedContinuation<Bool, Never>?>
    init(_ c: CheckedContinuation<Bool, Never>) { continuation = Mutex(c) }
    func resume(_ value: Bool) {
        continuation.withLock { c in
            c?.resume(returning: value)
            c = nil
        }
    }
}
