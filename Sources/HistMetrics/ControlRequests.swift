import Prometheus
import Synchronization

/// `histd_control_requests_total{command,result}`, for the control socket to call once per request.
/// `command` and `result` must come from small fixed sets (the command's name, "ok"/"error"/...),
/// never from request text. Not wired yet: the control plane lands on another branch.
final class ControlRequestCounters: Sendable {
    private let counters = Mutex<[Key: Counter]>([:])
    private let registry: PrometheusCollectorRegistry

    struct Key: Hashable {
        var command: String
        var result: String
    }

    init(registry: PrometheusCollectorRegistry) { self.registry = registry }

    func increment(command: String, result: String) {
        let key = Key(command: command, result: result)
        let counter = counters.withLock { map -> Counter in
            if let c = map[key] { return c }
            let c = registry.counter(MetricName.controlRequests, [("command", command), ("result", result)])
            map[key] = c
            return c
        }
        counter.increment()
    }
}

extension SupervisorMetrics {
    /// Counts one control request (`histd_control_requests_total{command,result}`).
    public func countControlRequest(command: String, result: String) {
        controlRequests.increment(command: command, result: result)
    }
}
