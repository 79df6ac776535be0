import HistModel

/// A program's restart state carried across a histd restart (`[supervisor] restore_state`): pure,
/// table-tested. The history gives the program's last lifecycle fact; wall time turns a backoff's
/// deadline, which was monotonic and died with the old histd, into the delay still left.
public enum RestoredState: Hashable, Sendable {
    /// Start as configured (autostart or not).
    case fresh
    /// It had given up: it stays `failed` until an operator starts it.
    case failed(restarts: Int)
    /// It was waiting to restart: wait what is left (zero if the deadline passed), with its attempt count.
    case backoff(remaining: Duration, attempt: Int)

    /// The last of a program's `start`, `restart_scheduled` and `gave_up` facts.
    public enum LastFact: Hashable, Sendable {
        case started
        case restartScheduled(at: Timestamp, delay: Duration, attempt: Int)
        case gaveUp(restarts: Int)
    }

    public static func decide(last: LastFact?, now: Timestamp) -> RestoredState {
        switch last {
        case nil, .started: return .fresh
        case .gaveUp(let restarts): return .failed(restarts: restarts)
        case .restartScheduled(let at, let delay, let attempt):
            let due = at.milliseconds + delay.milliseconds
            let left = max(0, due - now.milliseconds)
            // A clock that jumped back cannot make the wait longer than the delay itself.
            return .backoff(remaining: .milliseconds(min(left, delay.milliseconds)), attempt: attempt)
        }
    }
}
