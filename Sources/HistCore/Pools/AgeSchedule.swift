import HistModel

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
