import Foundation
import HistModel

/// `--format`: `table` for people, `json` and `csv` for scripts, `html` for a page to share
/// (the postmortem's charts; other reports as an HTML table).
public enum OutputFormat: String, CaseIterable, Sendable {
    case table, json, csv, html
}

/// How to render: the time zone for tables and whether to use ANSI colour.
public struct RenderOptions: Sendable {
    public var zone: TimeZone
    public var color: Bool
    public init(zone: TimeZone, color: Bool = false) {
        self.zone = zone
        self.color = color
    }

    /// Colour only when stdout is a terminal and `NO_COLOR` is unset (https://no-color.org).
    public static func colorWanted(environment: [String: String], isTTY: Bool) -> Bool {
        isTTY && environment["NO_COLOR"] == nil
    }
}

/// Turns a `ReportResult` into text. Every format keeps text from the database intact: JSON escapes it,
/// CSV quotes it (RFC 4180), tables show control characters visibly (a newline as ⏎).
public enum Renderer {
    public static func render(_ r: ReportResult, as format: OutputFormat, options: RenderOptions) -> String {
        switch format {
        case .table: table(r, options: options)
        case .json: json(r)
        case .csv: csv(r)
        case .html: HTMLTable.document(r, title: "histctl report", zone: options.zone)
        }
    }

    // MARK: JSON

    /// An array of objects, one per line, keys in column order.
    public static func json(_ r: ReportResult) -> String {
        guard !r.rows.isEmpty else { return "[]\n" }
        var out = "[\n"
        for (n, row) in r.rows.enumerated() {
            out += "  " + jsonObject(columns: r.columns.map(\.name), row: row)
            out += n == r.rows.count - 1 ? "\n" : ",\n"
        }
        return out + "]\n"
    }

    /// One object with keys in the given order.
    public static func jsonObject(columns: [String], row: [ReportValue]) -> String {
        var out = "{"
        for (i, name) in columns.enumerated() {
            if i > 0 { out += ", " }
            out += jsonString(name) + ": " + jsonValue(row[i])
        }
        return out + "}"
    }

    public static func jsonValue(_ v: ReportValue) -> String {
        switch v {
        case .null: "null"
        case .integer(let n): String(n)
        case .real(let d): d.isFinite ? number(d) : "null"
        case .text(let s): jsonString(s)
        case .bool(let b): b ? "true" : "false"
        case .time(let t): jsonString(TimeText.iso(t))
        }
    }

    /// A JSON string literal: quotes, backslashes and control characters escaped; other text as UTF-8.
    public static func jsonString(_ s: String) -> String { QuotedString.quote(s) }

    /// Shortest round-tripping decimal; integers-valued doubles keep one decimal ("2.0").
    static func number(_ d: Double) -> String {
        var s = "\(d)"
        if s.contains("e") { s = String(format: "%.6f", d) }
        return s
    }

    // MARK: CSV

    /// RFC 4180: a header row, CRLF line ends, fields with `,` `"` CR or LF quoted, quotes doubled.
    public static func csv(_ r: ReportResult) -> String {
        var out = r.columns.map { csvField($0.name) }.joined(separator: ",") + "\r\n"
        for row in r.rows {
            out += row.map { csvField(csvText($0)) }.joined(separator: ",") + "\r\n"
        }
        return out
    }

    static func csvText(_ v: ReportValue) -> String {
        switch v {
        case .null: ""
        case .integer(let n): String(n)
        case .real(let d): d.isFinite ? number(d) : ""
        case .text(let s): s
        case .bool(let b): b ? "true" : "false"
        case .time(let t): TimeText.iso(t)
        }
    }

    public static func csvField(_ s: String) -> String {
        if s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" || $0 == "\r\n" }) {
            return "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\""
        }
        return s
    }

    // MARK: Table

    /// Aligned columns: numbers right-aligned, text left-aligned, NULL as "-". Empty report: "(no rows)".
    public static func table(_ r: ReportResult, options: RenderOptions) -> String {
        guard !r.rows.isEmpty else { return "(no rows)\n" }
        let header = r.columns.map(\.name)
        let cells = r.rows.map { $0.map { tableText($0, zone: options.zone) } }
        var widths = header.map(DisplayWidth.of)
        for row in cells {
            for (i, c) in row.enumerated() { widths[i] = max(widths[i], DisplayWidth.of(c)) }
        }
        let rightAligned = r.columns.indices.map { i in
            r.rows.allSatisfy { row in
                switch row[i] { case .integer, .real, .null: true; default: false }
            }
        }
        func line(_ row: [String], bold: Bool) -> String {
            var parts: [String] = []
            for (i, c) in row.enumerated() {
                let padding = String(repeating: " ", count: widths[i] - DisplayWidth.of(c))
                let isLast = i == row.count - 1
                parts.append(rightAligned[i] ? padding + c : (isLast ? c : c + padding))
            }
            let text = parts.joined(separator: "  ")
            return bold && options.color ? "\u{1B}[1m" + text + "\u{1B}[0m" : text
        }
        var out = line(header, bold: true) + "\n"
        for row in cells { out += line(row, bold: false) + "\n" }
        return out
    }

    /// A cell as table text: control characters made visible so one row stays one line.
    public static func tableText(_ v: ReportValue, zone: TimeZone) -> String {
        switch v {
        case .null: return "-"
        case .integer(let n): return String(n)
        case .real(let d): return d.isFinite ? number(d) : "-"
        case .bool(let b): return b ? "yes" : "no"
        case .time(let t): return TimeText.local(t, in: zone)
        case .text(let s): return visible(s)
        }
    }

    /// Newlines become ⏎, tabs →, other control characters `\u{..}`.
    public static func visible(_ s: String) -> String {
        // Nearly every cell has no control character: return it as is (a postmortem has ~100,000 cells).
        if !s.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F }) { return s }
        var out = ""
        for u in s.unicodeScalars {
            switch u {
            case "\n": out += "⏎"
            case "\r": out += "\\r"
            case "\t": out += "→"
            default:
                if u.value < 0x20 || u.value == 0x7F { out += "\\u{\(String(u.value, radix: 16))}" } else { out.unicodeScalars.append(u) }
            }
        }
        return out
    }
}
