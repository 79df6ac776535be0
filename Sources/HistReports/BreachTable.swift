/// Table form of `histctl breaches`: memory values in MiB, the unit of `max_memory_mb` and of
/// `memory_max = "512M"` (JSON and CSV keep bytes).
public enum BreachTable {
    static let memoryLimits: Set<String> = ["max_memory_mb", "cgroup_memory"]

    public static func forTable(_ r: ReportResult) -> ReportResult {
        guard let limit = r.columns.firstIndex(where: { $0.name == "limit" }) else { return r }
        let targets = r.columns.indices.filter { ["value", "threshold"].contains(r.columns[$0].name) }
        var out = r
        for (n, row) in r.rows.enumerated() {
            guard case .text(let name) = row[limit], memoryLimits.contains(name) else { continue }
            for i in targets {
                if case .integer(let bytes) = row[i] { out.rows[n][i] = .text(mebibytes(bytes)) }
            }
        }
        return out
    }

    /// "512 MiB", "133.2 MiB".
    static func mebibytes(_ bytes: Int64) -> String {
        let tenths = (bytes * 10 + 524_288) / 1_048_576
        return tenths % 10 == 0 ? "\(tenths / 10) MiB" : "\(tenths / 10).\(tenths % 10) MiB"
    }
}
