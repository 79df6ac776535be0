import Foundation
import HistModel
import HistSys

/// One long-lived component of `histd run` (the writer, the engine, the watcher, the control socket,
/// the metrics server, the shipper) as a `ServiceStack` sees it: a name, how to start it, how to stop
/// it, and how long its stop may take.
///
/// Most of histd's components are threads whose start and stop block (a thread join, a flush with an
/// fsync, a cgroup kill-and-wait); `blocking` runs those on a thread of their own, never on Swift's
/// cooperative pool, which has two threads on a two-core box and also runs `histd run`'s main task.
public struct Service: Sendable {
    /// The work of a start or a stop, and where it runs.
    enum Body<Failure: Error>: Sendable {
        case async(@Sendable () async throws(Failure) -> Void)
        case blocking(@Sendable () throws(Failure) -> Void)
    }

    /// Names the service in logs and in `ServiceStack.StartFailure`.
    public let name: String
    /// How long its stop may take before the stack gives up waiting and stops the next one. Not a
    /// target: a bound that turns a hang into a logged overrun instead of a histd that never exits.
    public let stopBudget: Duration
    let startBody: Body<any Error>
    let stopBody: Body<Never>

    /// A service whose start and stop are async (they must not block a thread of the cooperative pool).
    public init(_ name: String, stopBudget: Duration = Service.defaultStopBudget,
                start: @escaping @Sendable () async throws -> Void = {}, stop: @escaping @Sendable () async -> Void) {
        self.name = name
        self.stopBudget = stopBudget
        startBody = .async(start)
        stopBody = .async(stop)
    }

    private init(name: String, stopBudget: Duration, startBody: Body<any Error>, stopBody: Body<Never>) {
        self.name = name
        self.stopBudget = stopBudget
        self.startBody = startBody
        self.stopBody = stopBody
    }

    /// A service whose start and stop block; each runs on a thread of its own.
    public static func blocking(_ name: String, stopBudget: Duration = Service.defaultStopBudget,
                                start: @escaping @Sendable () throws -> Void = {},
                                stop: @escaping @Sendable () -> Void) -> Service {
        Service(name: name, stopBudget: stopBudget, startBody: .blocking(start), stopBody: .blocking(stop))
    }

    /// What a component's stop gets unless it says otherwise: a thread join or a socket close takes
    /// milliseconds; this is room for a loaded box, not a figure anything waits for.
    public static let defaultStopBudget: Duration = .seconds(5)
}

extension Service.Body {
    /// Runs the body where it belongs and calls `done` with its result, from that thread or task.
    func launch(name: String, then done: @escaping @Sendable (Result<Void, Failure>) -> Void) {
        switch self {
        case .async(let body):
            Task.detached {
                do throws(Failure) { try await body(); done(.success(())) } catch { done(.failure(error)) }
            }
        case .blocking(let body):
            let thread = Thread.named("histd-svc-\(name)") {
                do throws(Failure) { try body(); done(.success(())) } catch { done(.failure(error)) }
            }
            thread.start()
        }
    }
}
