/// SplitMix64: a tiny deterministic generator, so tests can seed the age jitter and get the same
/// spread every run. (Not for anything secret.)
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    /// Seeded from the system generator (what histd uses outside tests).
    public init() {
        var system = SystemRandomNumberGenerator()
        state = system.next()
    }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// When a worker is due for age recycling: `max_worker_age` plus a random extra of up to
/// `age_jitter * max_worker_age` (like gunicorn's `max_requests_jitter`, the jitter only ever
/// lengthens a life), so workers started in the same second are recycled at different times.
public enum AgeSchedule {
    /// The age at which one worker is recycled. `jitter` is clamped to 0...1.
    public static func lifetime<G: RandomNumberGenerator>(maxAge: Duration, jitter: Double, using rng: inout G) -> Duration {
        let fraction = min(max(jitter, 0), 1)
        let spreadNs = Double(maxAge.nanoseconds) * fraction
        guard spreadNs >= 1 else { return maxAge }
        let extra = Double.random(in: 0..<spreadNs, using: &rng)
        return maxAge + .nanoseconds(Int64(extra))
    }
}
