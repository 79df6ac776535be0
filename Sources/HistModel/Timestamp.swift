#if canImport(Glibc)
import Glibc
#endif

/// A wall-clock instant, stored everywhere (database, events, JSON) as **integer milliseconds since
/// the Unix epoch, UTC**. One convention for every table: `datetime(ts / 1000, 'unixepoch')` in SQL.
public struct Timestamp: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// Milliseconds since 1970-01-01T00:00:00Z.
    public var milliseconds: Int64

    public init(milliseconds: Int64) { self.milliseconds = milliseconds }

    /// The current wall-clock time (CLOCK_REALTIME).
    public static func now() -> Timestamp {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Timestamp(milliseconds: Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000)
    }

    public static func < (a: Timestamp, b: Timestamp) -> Bool { a.milliseconds < b.milliseconds }

    public func adding(_ d: Duration) -> Timestamp {
        Timestamp(milliseconds: milliseconds + d.milliseconds)
    }

    public var description: String { "\(milliseconds)ms" }
}

/// Monotonic time for measuring intervals (uptime, backoff, timeouts); never stored.
public struct MonotonicInstant: Hashable, Comparable, Sendable {
    /// Nanoseconds of CLOCK_MONOTONIC.
    public var nanoseconds: UInt64

    public init(nanoseconds: UInt64) { self.nanoseconds = nanoseconds }

    public static func now() -> MonotonicInstant {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return MonotonicInstant(nanoseconds: UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec))
    }

    public static func < (a: MonotonicInstant, b: MonotonicInstant) -> Bool { a.nanoseconds < b.nanoseconds }

    /// The instant as a Duration since the clock's origin (for the engine's Duration arithmetic).
    public var sinceOrigin: Duration { .nanoseconds(Int64(nanoseconds)) }

    public func adding(_ d: Duration) -> MonotonicInstant {
        let ns = d.nanoseconds
        return MonotonicInstant(nanoseconds: ns >= 0 ? nanoseconds &+ UInt64(ns) : nanoseconds &- UInt64(-ns))
    }

    /// `self - earlier`, zero if earlier is later.
    public func since(_ earlier: MonotonicInstant) -> Duration {
        nanoseconds >= earlier.nanoseconds ? .nanoseconds(Int64(nanoseconds - earlier.nanoseconds)) : .zero
    }
}

extension Duration {
    /// Whole milliseconds (truncated).
    public var milliseconds: Int64 {
        let (s, atto) = components
        return s * 1000 + atto / 1_000_000_000_000_000
    }
    /// Whole nanoseconds (truncated).
    public var nanoseconds: Int64 {
        let (s, atto) = components
        return s * 1_000_000_000 + atto / 1_000_000_000
    }
    /// Seconds as a Double.
    public var seconds: Double {
        let (s, atto) = components
        return Double(s) + Double(atto) / 1e18
    }
}
