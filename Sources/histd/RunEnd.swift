import HistStore
import Synchronization

/// How `histd run` ended, read by the writer service's stop when it closes the run: unclean until the
/// engine has finished its shutdown, so every error path closes the run as unclean.
final class RunEnd: Sendable {
    private let value = Mutex<RunStopReason>(.unclean)
    var reason: RunStopReason {
        get { value.withLock { $0 } }
        set { value.withLock { $0 = newValue } }
    }
}

/// A start that failed with a message meant for the operator (printed as "histd: MESSAGE", exit 1).
struct RunStartError: Error, CustomStringConvertible {
    let description: String
    init(_ message: String) { description = message }
}
