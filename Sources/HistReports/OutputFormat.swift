import Foundation
import HistModel

/// `--format`: `table` for people, `json` and `csv` for scripts, `html` for a page to share
/// (the postmortem's charts; other reports as an HTML table).
public enum OutputFormat: String, CaseIterable, Sendable {
    case table, json, csv, html
}

/// How to render: the time zone for tables, whether to use ANSI colour, and the width tables must fit.
public struct RenderOptions: Sendable {
    public var zone: TimeZone
    public var color: Bool
    /// Terminal columns a table line must fit in; nil = no limit (`--wide`, or output to a pipe or file).
    public var width: Int?
    public init(zone: TimeZone, color: Bool = false, width: Int? = nil) {
        self.zone = zone
        self.color = color
        self.width = width
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
        // The same text as jsonObject per row, built as UTF-8 bytes in one buffer with each key quoted once
        // for all rows (6,600 breaches: a third of `histctl breaches --format json` went to per-row arrays
        // and per-cell strings).
        let keys: [[UInt8]] = r.columns.enumerated().map { Array((($0.offset > 0 ? ", " : "") + jsonString($0.element.name) + ": ").utf8) }
        var out: [UInt8] = Array("[\n".utf8)
        out.reserveCapacity(r.rows.count * (keys.reduce(6) { $0 + $1.count } + 12 * keys.count))
        for (n, row) in r.rows.enumerated() {
            out.append(contentsOf: [0x20, 0x20, 0x7B]) // "  {"
            for i in keys.indices {
                out.append(contentsOf: keys[i])
                appendJSONValue(row[i], to: &out)
            }
            out.append(0x7D) // "}"
            if n < r.rows.count - 1 { out.append(0x2C) } // ","
            out.append(0x0A)
        }
        out.append(contentsOf: [0x5D, 0x0A]) // "]\n"
        return String(decoding: out, as: UTF8.self)
    }

    /// The bytes of `jsonValue(v)`.
    static func appendJSONValue(_ v: ReportValue, to out: inout [UInt8]) {
        switch v {
        case .null: out.append(contentsOf: [0x6E, 0x75, 0x6C, 0x6C])
        case .integer(let n): out.append(contentsOf: String(n).utf8)
        case .text(let s): QuotedString.append(s, to: &out)
        case .time(let t): QuotedString.append(TimeText.iso(t), to: &out)
        default: out.append(contentsOf: jsonValue(v).utf8)
        }
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
    /// With a width, long cells are shortened and then low-ranked columns left out (TableFit) so that
    /// every line fits; a note under the table names what was left out. One row stays one line.
    public static func table(_ r: ReportResult, options: RenderOptions) -> String {
        guard !r.rows.isEmpty else { return "(no rows)\n" }
        guard let width = options.width else { return layout(r, options: options).text }
        var shown = r
        var dropped: [String] = []
        // Shorten long cells first, then leave out ranked columns, and only then cut other text.
        while layout(shown, options: options, lastResort: false).width > width {
            let ranked = shown.columns.indices.filter { shown.columns[$0].dropRank != nil }
            guard let i = ranked.min(by: { shown.columns[$0].dropRank! < shown.columns[$1].dropRank! }) else { break }
            dropped.append(header(shown.columns[i]))
            shown.columns.remove(at: i)
            shown.rows = shown.rows.map { var row = $0; row.remove(at: i); return row }
        }
        var text = layout(shown, options: options, lastResort: true).text
        if !dropped.isEmpty {
            text += wrap("(left out to fit \(width) columns: \(dropped.joined(separator: ", ")); --wide shows all)", width: width)
        }
        return text
    }

    /// `text` broken at spaces into lines of at most `width` columns (a longer word stays whole).
    public static func wrap(_ text: String, width: Int?) -> String {
        guard let width else { return text + "\n" }
        var out = "", line = ""
        for word in text.split(separator: " ", omittingEmptySubsequences: false) {
            if !line.isEmpty, DisplayWidth.of(line) + 1 + DisplayWidth.of(String(word)) > width {
                out += line + "\n"
                line = "  " + word
            } else {
                line += line.isEmpty ? String(word) : " " + word
            }
        }
        return out + line + "\n"
    }

    /// A column's table header: durations without their `_s`.
    static func header(_ c: ReportColumn) -> String {
        c.kind == .seconds && c.name.hasSuffix("_s") ? String(c.name.dropLast(2)) : c.name
    }

    /// The table text and its widest line.
    static func layout(_ r: ReportResult, options: RenderOptions, lastResort: Bool = true) -> (text: String, width: Int) {
        var header = r.columns.map(Self.header)
        // A time column whose times share one UTC offset shows it once, in the header.
        var compactTime = Set<Int>()
        for (i, c) in r.columns.enumerated() where c.kind == .time {
            let offsets = Set(r.rows.compactMap { row -> Int? in
                if case .time(let t) = row[i] { CivilTime.offsetSeconds(options.zone, at: t.milliseconds) } else { nil }
            })
            if offsets.count == 1, let o = offsets.first {
                compactTime.insert(i)
                header[i] += " " + TimeText.offset(o)
            }
        }
        var cells = r.rows.map { row in
            r.columns.indices.map { i in
                if compactTime.contains(i), case .time(let t) = row[i] { return TimeText.local(t, in: options.zone, offset: false) }
                return tableCell(row[i], column: r.columns[i], zone: options.zone, shorten: options.width != nil)
            }
        }
        var widths = header.map(DisplayWidth.of)
        for row in cells {
            for (i, c) in row.enumerated() { widths[i] = max(widths[i], DisplayWidth.of(c)) }
        }
        if let width = options.width {
            widths = TableFit.fit(widths: widths, headers: header.map(DisplayWidth.of), columns: r.columns, width: width,
                                  lastResort: lastResort)
            cells = cells.map { row in row.enumerated().map { TableFit.cut($1, to: widths[$0]) } }
        }
        let rightAligned = r.columns.indices.map { i in
            r.rows.allSatisfy { row in
                switch row[i] { case .integer, .real, .null: true; default: false }
            }
        }
        var widest = 0
        func line(_ row: [String], bold: Bool) -> String {
            var parts: [String] = []
            for (i, c) in row.enumerated() {
                let padding = String(repeating: " ", count: max(0, widths[i] - DisplayWidth.of(c)))
                let isLast = i == row.count - 1
                parts.append(rightAligned[i] ? padding + c : (isLast ? c : c + padding))
            }
            let text = parts.joined(separator: "  ")
            widest = max(widest, DisplayWidth.of(text))
            return bold && options.color ? "\u{1B}[1m" + text + "\u{1B}[0m" : text
        }
        var out = line(header.enumerated().map { TableFit.cut($1, to: widths[$0]) }, bold: true) + "\n"
        for row in cells { out += line(row, bold: false) + "\n" }
        return (out, widest)
    }

    /// The footer under a table that was cut to --limit.
    public static func moreFooter(_ more: Int) -> String {
        "(\(more) more; use --limit N or --all)\n"
    }

    /// One table cell: durations human, a stderr tail as its last line when shortening, control
    /// characters visible.
    static func tableCell(_ v: ReportValue, column: ReportColumn, zone: TimeZone, shorten: Bool) -> String {
        if column.kind == .seconds {
            switch v {
            case .real(let d): return HumanDuration.format(seconds: d)
            case .integer(let n): return HumanDuration.format(milliseconds: n * 1000)
            default: break
            }
        }
        if shorten, column.shortening == .lastLine, case .text(let s) = v {
            let lines = s.split(whereSeparator: { $0 == "\n" || $0 == "\r\n" || $0 == "\r" })
                .filter { !$0.allSatisfy(\.isWhitespace) }
            guard let last = lines.last else { return visible(s) }
            return lines.count > 1 ? "…" + visible(String(last)) : visible(String(last))
        }
        return tableText(v, zone: zone)
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
