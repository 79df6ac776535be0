import HistModel

/// The autoscaler's memory between two decisions.
public struct ScaleState: Hashable, Sendable {
    /// The size the autoscaler last asked for (the engine's desired size).
    public var desired: Int
    /// Monotonic time since when the signal has stayed below `cpu_target / 2`; nil when it is not below.
    public var belowSince: Duration?

    public init(desired: Int, belowSince: Duration? = nil) {
        self.desired = desired
        self.belowSince = belowSince
    }
}

/// One resize the autoscaler decided on; recorded as `scale_up` / `scale_down`.
public struct ScaleDecision: Hashable, Sendable {
    public var up: Bool
    /// The measured signal (CPU%) that drove it.
    public var signal: Double
    public var from: Int
    public var to: Int

    public init(up: Bool, signal: Double, from: Int, to: Int) {
        self.up = up
        self.signal = signal
        self.from = from
        self.to = to
    }
}

/// The autoscaling rule as a pure function (no clock, no /proc): called once per `scale_interval`
/// with the signal measured over that interval.
///
/// - Above `cpu_target`: one step up (at most one per call), up to `max_workers`.
/// - Below `cpu_target / 2` continuously for `scale_down_after`: one step down, down to
///   `min_workers`; the below-window then starts again, so each further step needs another full
///   `scale_down_after`.
/// - In between (or at a bound): no change; being "in between" ends a below-window.
/// - A desired size outside `[min_workers, max_workers]` (an operator resize) is left alone
///   until the signal itself moves it: the autoscaler never fights the operator without cause.
/// - No signal (first measurement, no live workers): no decision, state unchanged.
public enum ScaleDecider {
    public static func decide(signal: Double?, now: Duration, state: ScaleState,
                              spec: PoolSpec) -> (state: ScaleState, decision: ScaleDecision?) {
        guard let signal, signal.isFinite else { return (state, nil) }
        var s = state
        if signal > spec.cpuTarget {
            s.belowSince = nil
            guard s.desired < spec.maxWorkers else { return (s, nil) }
            let from = s.desired
            s.desired = max(from + 1, spec.minWorkers)
            return (s, ScaleDecision(up: true, signal: signal, from: from, to: s.desired))
        }
        guard signal < spec.cpuTarget / 2 else {
            s.belowSince = nil
            return (s, nil)
        }
        let since = s.belowSince ?? now
        s.belowSince = since
        guard now - since >= spec.scaleDownAfter, s.desired > spec.minWorkers else { return (s, nil) }
        let from = s.desired
        s.desired = min(from - 1, spec.maxWorkers)
        s.belowSince = now
        return (s, ScaleDecision(up: false, signal: signal, from: from, to: s.desired))
    }
}
