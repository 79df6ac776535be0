import Foundation

/// Fits a table into a terminal width by narrowing columns, shortenable ones (stderr tails, command
/// lines, details) first and down to 10 columns, then (TableFit's caller leaves out low-ranked columns first) any text column down to its
/// header, widest first.
/// A cut cell ends in "…". Cells are measured in terminal columns (DisplayWidth), so wide characters
/// are never split.
public enum TableFit {
    static let separator = 2
    static let shortenableMinimum = 10

    /// Column widths whose sum with separators is at most `width` when the minimums allow it.
    static func fit(widths: [Int], headers: [Int], columns: [ReportColumn], width: Int, lastResort: Bool = true) -> [Int] {
        var w = widths
        func total() -> Int { w.reduce(0, +) + separator * max(0, w.count - 1) }
        // Pass 1: shortenable columns, widest first. Pass 2: other text columns, widest first, not below
        // their header. Numbers and times are never cut (a cut number is a wrong number).
        let passes: [(ReportColumn) -> Bool] = [
            { $0.shortening != .none },
            { $0.shortening == .none && $0.kind == .auto },
        ]
        for (n, eligible) in passes.enumerated() where n == 0 || lastResort {
            while total() > width {
                let floor = { (i: Int) in n == 0 ? max(shortenableMinimum, headers[i]) : max(headers[i], 6) }
                guard let i = w.indices.filter({ eligible(columns[$0]) && w[$0] > floor($0) })
                    .max(by: { w[$0] < w[$1] }) else { break }
                w[i] = max(floor(i), w[i] - (total() - width))
            }
        }
        return w
    }

    /// `text` cut to `columns` terminal columns, ending in "…" when cut.
    public static func cut(_ text: String, to columns: Int) -> String {
        guard DisplayWidth.of(text) > columns else { return text }
        guard columns >= 1 else { return "" }
        var out = ""
        var used = 0
        for c in text {
            let cw = DisplayWidth.of(c)
            if used + cw > columns - 1 { break }
            out.append(c)
            used += cw
        }
        return out + "…"
    }
}

/// The terminal width for tables: `$COLUMNS` when it is a positive number, else the window size of `fd`
/// (TIOCGWINSZ) when it is a terminal, else nil (output to a pipe or a file is not shortened).
public enum TerminalWidth {
    public static func columns(environment: [String: String], fd: Int32) -> Int? {
        if let text = environment["COLUMNS"], let n = Int(text.trimmingCharacters(in: .whitespaces)), n > 0 { return n }
        var size = winsize()
        guard isatty(fd) == 1, ioctl(fd, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 else { return nil }
        return Int(size.ws_col)
    }
}
