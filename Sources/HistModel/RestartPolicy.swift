/// When a program that ended on its own is started again. (A stop that histd asked for is never
/// restarted, whatever the policy.)
public enum RestartPolicy: String, Hashable, Sendable, CaseIterable, Codable {
    /// Restart after any exit, clean or not.
    case always
    /// Restart after a crash (non-zero exit or signal) or a limit kill; a clean exit 0 stays exited.
    case onFailure = "on-failure"
    /// Never restart.
    case never
}

/// The backoff part of a program's policy, as a value: `delay(n) = min(restartDelay * factor^n, maxBackoff)`.
public struct BackoffPolicy: Hashable, Sendable, Codable {
    public var restartDelay: Duration
    public var backoffFactor: Double
    public var maxBackoff: Duration
    /// Consecutive failed runs before giving up (state `failed`); 0 = never give up.
    public var maxRestarts: Int
    /// A run at least this long resets the backoff and the restart count.
    public var resetAfter: Duration

    public init(restartDelay: Duration = .seconds(1), backoffFactor: Double = 2.0,
                maxBackoff: Duration = .seconds(60), maxRestarts: Int = 5, resetAfter: Duration = .seconds(60)) {
        self.restartDelay = restartDelay
        self.backoffFactor = backoffFactor
        self.maxBackoff = maxBackoff
        self.maxRestarts = maxRestarts
        self.resetAfter = resetAfter
    }

    /// The delay before restart number `attempt` (0-based: the first restart after a crash is 0).
    public func delay(attempt: Int) -> Duration {
        let base = restartDelay.seconds
        let capped = min(base * pow(backoffFactor, Double(attempt)), maxBackoff.seconds)
        guard capped.isFinite, capped > 0 else { return capped.isFinite ? .zero : maxBackoff }
        return .nanoseconds(Int64((capped * 1e9).rounded()))
    }
}

#if canImport(Glibc)
import Glibc
#endif
