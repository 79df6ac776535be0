import Foundation
import HistModel

/// Maps the window's times onto an SVG x range, and picks round tick times ("every 5 minutes") so
/// that every chart of the report shares the same grid.
struct TimeAxis {
    var since: Timestamp
    var until: Timestamp
    /// x of `since` and of `until` in the SVG's user units.
    var x0: Double
    var x1: Double

    /// x of `t`, clamped into the plot.
    func x(_ t: Timestamp) -> Double {
        let span = Double(max(1, until.milliseconds - since.milliseconds))
        let f = Double(t.milliseconds - since.milliseconds) / span
        return x0 + (x1 - x0) * min(1, max(0, f))
    }

    /// Round tick times inside the window: about `target` of them, at 1/2/5/10/15/30 s, min, h or d.
    func ticks(target: Int = 8) -> [Timestamp] {
        let span = max(1, until.milliseconds - since.milliseconds)
        let steps: [Int64] = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10_800, 21_600, 43_200, 86_400, 172_800, 604_800]
            .map { $0 * 1000 }
        let step = steps.first { span / $0 <= Int64(target) } ?? steps[steps.count - 1]
        var t = (since.milliseconds / step + 1) * step
        var out: [Timestamp] = []
        while t < until.milliseconds {
            out.append(Timestamp(milliseconds: t))
            t += step
        }
        return out
    }

    /// A tick label: the time of day when the window is shorter than two days, else the date too.
    func label(_ t: Timestamp, zone: TimeZone) -> String {
        let full = TimeText.local(t, in: zone)  // "2026-11-21 10:15:00 +01:00"
        let parts = full.split(separator: " ")
        guard parts.count >= 2 else { return full }
        let clock = parts[1].hasSuffix(":00") ? String(parts[1].dropLast(3)) : String(parts[1])
        return until.milliseconds - since.milliseconds < 2 * 86_400_000 ? clock : "\(parts[0].dropFirst(5)) \(clock)"
    }
}
