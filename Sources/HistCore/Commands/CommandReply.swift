import Foundation
import HistModel
import Synchronization

/// A one-shot answer slot for a posted command. The engine completes it (never blocking: completion
/// only stores the outcome, signals a semaphore and runs the callbacks registered with `onComplete`);
/// the asker waits on another thread, or registers a callback. The first completion wins: a waiter
/// that gives up completes it with `.timedOut`, and the engine's later answer is dropped.
public final class CommandReply: Sendable {
    private struct State {
        var outcome: CommandOutcome?
        var callbacks: [@Sendable (CommandOutcome) -> Void] = []
    }
    private let state = Mutex(State())
    private let done = DispatchSemaphore(value: 0)

    public init() {}

    /// Completes the reply; returns false when it was already complete. Callbacks run on the caller's
    /// thread (the engine's), so they must not block.
    @discardableResult
    public func complete(_ outcome: CommandOutcome) -> Bool {
        let callbacks: [@Sendable (CommandOutcome) -> Void]? = state.withLock { s in
            guard s.outcome == nil else { return nil }
            s.outcome = outcome
            defer { s.callbacks.removeAll() }
            return s.callbacks
        }
        guard let callbacks else { return false }
        done.signal()
        for c in callbacks { c(outcome) }
        return true
    }

    /// `complete`, for callers that do not care whether it was first.
    public func answer(_ outcome: CommandOutcome) { complete(outcome) }

    /// The outcome, once complete.
    public var outcome: CommandOutcome? { state.withLock { $0.outcome } }

    /// True once complete (the engine stops tracking a reply that a waiter gave up on).
    public var isComplete: Bool { outcome != nil }

    /// Runs `callback` with the outcome: now if complete, else on the completing thread. It must not block.
    public func onComplete(_ callback: @escaping @Sendable (CommandOutcome) -> Void) {
        let ready: CommandOutcome? = state.withLock { s in
            if let o = s.outcome { return o }
            s.callbacks.append(callback)
            return nil
        }
        if let ready { callback(ready) }
    }

    /// Blocks the calling thread (never the engine's) until complete or `timeout` passed; on timeout
    /// it completes the reply with `.timedOut` itself and returns that.
    public func wait(timeout: Duration) -> CommandOutcome {
        let seconds = Double(timeout.components.seconds) + Double(timeout.components.attoseconds) / 1e18
        if done.wait(timeout: .now() + seconds) == .success, let o = outcome { return o }
        complete(.timedOut("no answer within \(HistDuration.format(timeout))"))
        return outcome ?? .timedOut("no answer")
    }
}
