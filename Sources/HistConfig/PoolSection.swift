import HistModel
import TOMLKit

/// `[pool.NAME]`: every program key (per worker) plus the sizing keys.
extension ConfigValidator {
    static let poolKeys = [
        "min_workers", "max_workers", "scale_on", "cpu_target", "scale_interval", "scale_down_after",
        "max_worker_age", "age_jitter",
    ]

    func pool(name: String, table: TOMLTable, path: [String], defaults: ProgramDefaults) -> PoolSpec? {
        let worker = program(name: name, table: table, path: path, defaults: defaults, extraKeys: Self.poolKeys)
        var spec = PoolSpec(worker: worker ?? ProgramSpec(name: name, command: []))

        let minValue = table["min_workers"].flatMap { int($0, path + ["min_workers"], in: 0...10_000, what: "a number of workers from 0 to 10000") }
        let maxValue = table["max_workers"].flatMap { int($0, path + ["max_workers"], in: 1...10_000, what: "a number of workers from 1 to 10000") }
        // max_workers defaults to min_workers, so `min_workers = 4` alone means a fixed pool of 4.
        spec.minWorkers = minValue ?? 1
        spec.maxWorkers = maxValue ?? max(spec.minWorkers, 1)
        if let minValue, let maxValue, maxValue < minValue {
            report(path + ["max_workers"], "max_workers (\(maxValue)) is less than min_workers (\(minValue))")
        }
        if let v = table["scale_on"], let s = oneOf(v, path + ["scale_on"], ScaleSignal.self) { spec.scaleOn = s }
        if let v = table["cpu_target"], let p = percent(v, path + ["cpu_target"], in: 1...1000) { spec.cpuTarget = p }
        if let v = table["scale_interval"], let d = duration(v, path + ["scale_interval"], atLeast: .milliseconds(100), atMost: .seconds(86400)) {
            spec.scaleInterval = d
        }
        if let v = table["scale_down_after"], let d = duration(v, path + ["scale_down_after"]) { spec.scaleDownAfter = d }
        if let v = table["max_worker_age"], let d = durationOrOff(v, path + ["max_worker_age"], atLeast: .seconds(1)) { spec.maxWorkerAge = d }
        if let v = table["age_jitter"], let j = number(v, path + ["age_jitter"], in: 0...1, what: "a fraction between 0 and 1") { spec.ageJitter = j }
        return worker == nil ? nil : spec
    }
}
