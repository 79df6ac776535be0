import Foundation

/// Order statistics of one measured quantity, as BENCHMARKS.md quotes them.
struct Stats: Codable, Sendable {
    var n: Int
    var median: Double
    var min: Double
    var max: Double
    /// nil when there are too few samples for a p95 to mean anything (n < 10).
    var p95: Double?
    var p99: Double?

    /// Nearest-rank percentiles over the samples; nil for an empty list.
    init?(_ values: [Double]) {
        guard !values.isEmpty else { return nil }
        let sorted = values.sorted()
        n = sorted.count
        min = sorted.first!
        max = sorted.last!
        let mid = sorted.count / 2
        median = sorted.count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
        p95 = n >= 10 ? Stats.rank(sorted, 0.95) : nil
        p99 = n >= 100 ? Stats.rank(sorted, 0.99) : nil
    }

    static func rank(_ sorted: [Double], _ q: Double) -> Double {
        let index = Swift.max(0, Swift.min(sorted.count - 1, Int((q * Double(sorted.count)).rounded(.up)) - 1))
        return sorted[index]
    }
}

/// One line of a scenario's result: a quantity with its unit, its statistics or single value, and
/// the target it is held against.
struct Measurement: Codable, Sendable {
    var name: String
    var unit: String
    var stats: Stats?
    /// For quantities measured once (a rate over a 10 s window, a size).
    var value: Double?
    /// Human form of the target, e.g. "<= 1 ms (median)".
    var target: String?
    /// Whether the median (or value) meets the target; nil when there is no target.
    var met: Bool?
}

/// What a scenario reports: measurements plus free-form facts about how it ran.
struct ScenarioResult: Codable, Sendable {
    var scenario: String
    var measurements: [Measurement] = []
    var info: [String: String] = [:]
    var startedAt: String = ISO8601DateFormatter().string(from: Date())

    init(_ scenario: String) { self.scenario = scenario }

    /// Adds a sampled quantity; `limit` (same unit) is compared with the median when given.
    mutating func add(_ name: String, unit: String, samples: [Double], limit: Double? = nil, atLeast: Bool = false, target: String? = nil) {
        let stats = Stats(samples)
        var met: Bool?
        if let limit, let stats { met = atLeast ? stats.median >= limit : stats.median <= limit }
        measurements.append(Measurement(name: name, unit: unit, stats: stats, value: nil, target: target, met: met))
    }

    /// Adds a single value; `limit` is compared with it when given.
    mutating func add(_ name: String, unit: String, value: Double, limit: Double? = nil, atLeast: Bool = false, target: String? = nil) {
        var met: Bool?
        if let limit { met = atLeast ? value >= limit : value <= limit }
        measurements.append(Measurement(name: name, unit: unit, stats: nil, value: value, target: target, met: met))
    }

    /// Plain-text form for a terminal.
    func text() -> String {
        var out = "== \(scenario)\n"
        for m in measurements {
            var line = "  " + m.name.padding(toLength: 50, withPad: " ", startingAt: 0)
            if let s = m.stats {
                line += "median \(fmt(s.median)) \(m.unit)  min \(fmt(s.min))  max \(fmt(s.max))"
                if let p95 = s.p95 { line += "  p95 \(fmt(p95))" }
                if let p99 = s.p99 { line += "  p99 \(fmt(p99))" }
                line += "  n=\(s.n)"
            } else if let v = m.value {
                line += "\(fmt(v)) \(m.unit)"
            } else {
                line += "(no samples)"
            }
            if let t = m.target { line += "   target \(t): " + (m.met == true ? "MET" : m.met == false ? "MISSED" : "n/a") }
            out += line + "\n"
        }
        for key in info.keys.sorted() { out += "  - \(key): \(info[key]!)\n" }
        return out
    }
}

/// Compact number formatting: 3 significant decimals for small values, none for large ones.
func fmt(_ v: Double) -> String {
    if v.isNaN { return "nan" }
    let a = abs(v)
    if a >= 1000 { return String(format: "%.0f", v) }
    if a >= 100 { return String(format: "%.1f", v) }
    if a >= 10 { return String(format: "%.2f", v) }
    return String(format: "%.3f", v)
}
