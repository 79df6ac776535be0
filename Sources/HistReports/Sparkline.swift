/// Unicode sparklines (▁▂▃▄▅▆▇█) for postmortem charts.
public enum Sparkline {
    static let bars: [Character] = ["▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"]

    /// One character per value, scaled from `0` (or the minimum when all are far from zero) to the
    /// maximum; `nil` (no sample in that bucket) is a space. All-equal values draw the lowest bar.
    public static func render(_ values: [Double?]) -> String {
        let present = values.compactMap { $0 }
        guard let hi = present.max(), let lo = present.min() else { return String(repeating: " ", count: values.count) }
        let base = lo >= 0 && lo < hi / 2 ? 0 : lo
        let span = hi - base
        return String(values.map { v -> Character in
            guard let v else { return " " }
            guard span > 0 else { return bars[0] }
            let i = Int(((v - base) / span * Double(bars.count - 1)).rounded())
            return bars[min(max(i, 0), bars.count - 1)]
        })
    }
}
