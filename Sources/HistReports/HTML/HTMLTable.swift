import Foundation

/// A report result as an HTML table: every cell escaped, times in the reader's zone, numbers right-
/// aligned, multi-line text (stderr, cmdlines with newlines) in a `<pre>`.
enum HTMLTable {
    static func render(_ r: ReportResult, zone: TimeZone, caption: String? = nil) -> String {
        guard !r.rows.isEmpty else { return "<p class=\"note\">None.</p>\n" }
        var out = "<table>"
        if let caption { out += "<caption class=\"note\">\(HTMLText.escape(caption))</caption>" }
        out += "<thead><tr>" + r.columns.map { "<th>\(HTMLText.escape($0.name))</th>" }.joined() + "</tr></thead><tbody>"
        for row in r.rows {
            out += "<tr>"
            for v in row { out += cell(v, zone: zone) }
            out += "</tr>"
        }
        return out + "</tbody></table>\n"
    }

    static func cell(_ v: ReportValue, zone: TimeZone) -> String {
        switch v {
        case .integer, .real: return "<td class=\"n\">\(HTMLText.escape(Renderer.tableText(v, zone: zone)))</td>"
        case .text(let s) where s.contains("\n"): return "<td><pre>\(HTMLText.escape(s))</pre></td>"
        case .text(let s) where s.count > 160:
            // A long command line stays one line until asked for (a <details>, no script).
            return "<td class=\"code\"><details><summary>\(HTMLText.escape(String(s.prefix(100))))…</summary>\(HTMLText.escape(s))</details></td>"
        case .text(let s): return "<td class=\"code\">\(HTMLText.escape(s))</td>"
        case .time: return "<td class=\"t\">\(HTMLText.escape(Renderer.tableText(v, zone: zone)))</td>"
        default: return "<td>\(HTMLText.escape(Renderer.tableText(v, zone: zone)))</td>"
        }
    }

    /// Any report as a standalone page (`--format html` for the other reports).
    static func document(_ r: ReportResult, title: String, zone: TimeZone) -> String {
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            + "<title>\(HTMLText.escape(title))</title><style>\(HTMLStyle.css)</style></head><body>\n<h1>\(HTMLText.escape(title))</h1>\n"
            + render(r, zone: zone) + "</body></html>\n"
    }
}
