import Foundation

/// The vertical view of report rows, one block per row, for "why did X crash" (in the spirit of
/// `kubectl describe`): every field on its own line, durations human, and multi-line text (a stderr
/// tail) in full, one line per line, indented. Nothing is cut; control characters other than newlines
/// are made visible as in tables, so hostile text cannot move the cursor or fake a field.
public enum RecordView {
    public static func render(_ r: ReportResult, title: (Int) -> String, options: RenderOptions) -> String {
        guard !r.rows.isEmpty else { return "(no rows)\n" }
        let labels = r.columns.map { c in
            c.kind == .seconds && c.name.hasSuffix("_s") ? String(c.name.dropLast(2)) : c.name
        }
        let pad = (labels.map(DisplayWidth.of).max() ?? 0) + 2
        var out = ""
        for (n, row) in r.rows.enumerated() {
            if n > 0 { out += "\n" }
            out += options.color ? "\u{1B}[1m" + title(n) + "\u{1B}[0m\n" : title(n) + "\n"
            for (i, column) in r.columns.enumerated() {
                let label = labels[i] + ":" + String(repeating: " ", count: max(1, pad - DisplayWidth.of(labels[i])))
                if case .text(let s) = row[i], s.contains(where: { $0 == "\n" || $0 == "\r\n" || $0 == "\r" }) {
                    out += "  " + labels[i] + ":\n"
                    let lines = s.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" || $0 == "\r" })
                    for line in lines.reversed().drop(while: { $0.isEmpty }).reversed() {
                        out += "    " + Renderer.visible(String(line)) + "\n"
                    }
                } else {
                    out += "  " + label + Renderer.tableCell(row[i], column: column, zone: options.zone, shorten: false) + "\n"
                }
            }
        }
        return out
    }
}
