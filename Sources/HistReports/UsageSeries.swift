import HistModel

/// One program's RSS and CPU% over a postmortem window: one point per non-empty bucket of
/// `Postmortem.seriesBuckets`, each the bucket's **largest** sample (queries/usage.sql), so that
/// downsampling never hides a peak.
public struct UsageSeries: Hashable, Sendable {
    /// One bucket: its first sweep's time, and the largest per-sweep values in it.
    public struct Point: Hashable, Sendable {
        public var bucket: Int
        public var time: Timestamp
        /// KiB, summed over the program's instances in one sweep.
        public var rssKB: Double?
        /// 100 = one core, summed over the program's instances in one sweep.
        public var cpuPercent: Double?
    }

    public var program: String
    public var points: [Point]

    /// The largest sampled RSS, KiB.
    public var peakRSSKB: Double? { points.compactMap(\.rssKB).max() }
    /// The largest sampled CPU%.
    public var peakCPUPercent: Double? { points.compactMap(\.cpuPercent).max() }

    /// Reads queries/usage.sql rows (ordered by program, bucket) into one series per program; other
    /// columns (the fleet's `host`) are ignored.
    public static func from(_ rows: ReportResult) -> [UsageSeries] {
        var out: [UsageSeries] = []
        guard let cp = rows.columns.firstIndex(where: { $0.name == "program" }),
              let cb = rows.columns.firstIndex(where: { $0.name == "bucket" }),
              let ct = rows.columns.firstIndex(where: { $0.name == "time" }),
              let cr = rows.columns.firstIndex(where: { $0.name == "rss_kb" }),
              let cc = rows.columns.firstIndex(where: { $0.name == "cpu_pct" }) else { return out }
        for row in rows.rows {
            guard case .text(let program) = row[cp], case .integer(let b) = row[cb], case .time(let t) = row[ct] else { continue }
            if out.last?.program != program { out.append(UsageSeries(program: program, points: [])) }
            out[out.count - 1].points.append(Point(bucket: Int(b), time: t, rssKB: row[cr].double, cpuPercent: row[cc].double))
        }
        return out
    }

    /// The series folded into `count` equal buckets (each keeps its largest value; nil = no sample),
    /// for sparklines. `from` buckets must be a multiple of `count` for the folding to be exact.
    func folded(into count: Int, from buckets: Int) -> (rssKB: [Double?], cpuPercent: [Double?]) {
        var rss = [Double?](repeating: nil, count: count)
        var cpu = [Double?](repeating: nil, count: count)
        for p in points {
            let i = min(count - 1, max(0, p.bucket * count / buckets))
            if let v = p.rssKB { rss[i] = max(rss[i] ?? v, v) }
            if let v = p.cpuPercent { cpu[i] = max(cpu[i] ?? v, v) }
        }
        return (rss, cpu)
    }
}

/// The limits one program ran under during one supervisor run of the window (queries/limits.sql).
public struct ProgramLimit: Hashable, Sendable {
    public var program: String
    public var from: Timestamp
    /// nil while the run is still open.
    public var until: Timestamp?
    /// `max_memory_mb` as KiB.
    public var maxMemoryKB: Double?
    /// cgroup `memory_max` as KiB.
    public var cgroupMemoryKB: Double?
    /// cgroup `cpu_quota`, percent of one CPU.
    public var cpuQuotaPercent: Double?

    static func from(_ rows: ReportResult) -> [ProgramLimit] {
        rows.rows.indices.compactMap { i in
            guard case .text(let program) = rows.value(i, "program"), case .time(let from) = rows.value(i, "started_at") else { return nil }
            var until: Timestamp?
            if case .time(let u) = rows.value(i, "stopped_at") { until = u }
            let l = ProgramLimit(program: program, from: from, until: until,
                                 maxMemoryKB: rows.value(i, "max_memory_mb").double.map { $0 * 1024 },
                                 cgroupMemoryKB: rows.value(i, "cgroup_memory_b").double.map { $0 / 1024 },
                                 cpuQuotaPercent: rows.value(i, "cpu_quota_pct").double)
            return l.maxMemoryKB == nil && l.cgroupMemoryKB == nil && l.cpuQuotaPercent == nil ? nil : l
        }
    }
}
