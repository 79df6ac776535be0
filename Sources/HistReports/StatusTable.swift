import Foundation

/// Table form of `histctl status`: last_event, last_snapshot and run_open are facts about the whole
/// record, the same on every row, so a table shows them once, under the rows. So is "histd not running
/// since T" (the status of a dead histd's programs): the cell says `unknown`, and the line under the rows
/// says why, so a narrow terminal never cuts the state to "unkno…".
public enum StatusTable {
    static let recordColumns = ["last_event", "last_snapshot", "run_open"]

    public static func split(_ r: ReportResult, zone: TimeZone) -> (table: ReportResult, freshness: String?) {
        let keep = r.columns.indices.filter { !recordColumns.contains(r.columns[$0].name) }
        let state = keep.firstIndex { r.columns[$0].name == "state" }
        var why: String?
        let rows = r.rows.map { row -> [ReportValue] in
            var out = keep.map { row[$0] }
            if let state, case .text(let s) = out[state], s.hasPrefix("unknown (") {
                why = String(s.dropFirst("unknown (".count).dropLast())
                out[state] = .text("unknown")
            }
            return out
        }
        let table = ReportResult(columns: keep.map { r.columns[$0] }, rows: rows)
        guard !r.rows.isEmpty else { return (table, nil) }
        func text(_ name: String) -> String { Renderer.tableText(r.value(0, name), zone: zone) }
        return (table, "newest event: \(text("last_event"))\nnewest sweep: \(text("last_snapshot"))\n"
                    + "supervisor run open: \(text("run_open"))" + (why.map { "\nunknown: \($0)" } ?? ""))
    }
}
