import Foundation

/// Table form of `histctl status`: last_event, last_snapshot and run_open are facts about the whole
/// record, the same on every row, so a table shows them once, under the rows.
public enum StatusTable {
    static let recordColumns = ["last_event", "last_snapshot", "run_open"]

    public static func split(_ r: ReportResult, zone: TimeZone) -> (table: ReportResult, freshness: String?) {
        let keep = r.columns.indices.filter { !recordColumns.contains(r.columns[$0].name) }
        let table = ReportResult(columns: keep.map { r.columns[$0] }, rows: r.rows.map { row in keep.map { row[$0] } })
        guard !r.rows.isEmpty else { return (table, nil) }
        func text(_ name: String) -> String { Renderer.tableText(r.value(0, name), zone: zone) }
        return (table, "newest event: \(text("last_event"))\nnewest sweep: \(text("last_snapshot"))\n"
                    + "supervisor run open: \(text("run_open"))")
    }
}
