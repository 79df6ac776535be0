import Foundation
import HistCore
import HistStore
import Prometheus

/// The two text formats a scraper can ask for.
public enum ExpositionFormat: Sendable, Hashable {
    /// Prometheus text format 0.0.4 (what swift-prometheus writes; node_exporter's textfile format).
    case prometheus
    /// OpenMetrics 1.0.0: counter families named without `_total`, `_info` gauges as `info`, `# EOF`.
    case openMetrics

    public var contentType: String {
        switch self {
        case .prometheus: "text/plain; version=0.0.4; charset=utf-8"
        case .openMetrics: "application/openmetrics-text; version=1.0.0; charset=utf-8"
        }
    }

    /// OpenMetrics when the Accept header lists `application/openmetrics-text` with a q above 0
    /// (Prometheus asks for it first), else the Prometheus text format.
    public static func negotiate(accept: String?) -> ExpositionFormat {
        guard let accept else { return .prometheus }
        for part in accept.split(separator: ",") {
            let fields = part.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
            guard fields.first?.lowercased() == "application/openmetrics-text" else { continue }
            let q = fields.dropFirst().first { $0.hasPrefix("q=") }.flatMap { Double($0.dropFirst(2)) } ?? 1
            if q > 0 { return .openMetrics }
        }
        return .prometheus
    }
}

extension SupervisorMetrics {
    /// Makes scrape-time gauges read `supervisor` (states, live processes, pools) and `writer`
    /// (queue, counts). Until then a scrape shows only the counters.
    /// `shipDatabase`: with `[ship]`, the database whose histd-ship state file (ShipState) the
    /// `histd_ship_*` gauges read at scrape time.
    public func attach(supervisor: Supervisor, writer: HistoryWriter?, shipDatabase: String? = nil) {
        attached.withLock { $0 = Attached(supervisor: supervisor, writer: writer, shipDatabase: shipDatabase) }
    }

    /// One scrape: refreshes the histd-wide gauges and renders every metric. Serialized; never
    /// blocks the engine beyond the short lock that `Supervisor.statusUnordered()` takes to copy.
    public func render(_ format: ExpositionFormat) -> [UInt8] {
        let attached = self.attached.withLock { $0 }
        let cells = allCells()
        return scrape.withLock { state in
            if let attached { state.refresh(attached) }
            state.registryBuffer.removeAll(keepingCapacity: true)
            registry.emit(into: &state.registryBuffer)
            state.buffer.removeAll(keepingCapacity: true)
            switch format {
            case .prometheus: state.buffer.append(contentsOf: state.registryBuffer)
            case .openMetrics: OpenMetrics.convert(state.registryBuffer, into: &state.buffer)
            }
            state.units.render(into: &state.buffer, format: format, cells: cells, status: attached?.supervisor.statusUnordered(),
                               cell: { self.cell($0) })
            if format == .openMetrics { state.buffer.append(contentsOf: "# EOF\n".utf8) }
            return state.buffer
        }
    }
}

/// Rewrites swift-prometheus's text format as OpenMetrics 1.0.0. The sample lines are the same in
/// both; only the metadata differs: a counter family's name has no `_total` (its samples keep it),
/// a gauge named `*_info` is an `info` family (name without `_info`), and the text ends in `# EOF`.
enum OpenMetrics {
    /// `end`: append the closing `# EOF` (off when more families follow).
    static func convert(_ text: [UInt8], end: Bool = true) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(text.count + 64)
        convert(text, into: &out)
        if end { out.append(contentsOf: "# EOF\n".utf8) }
        return out
    }

    /// Appends the OpenMetrics form of `text` to `out` (without `# EOF`).
    static func convert(_ text: [UInt8], into out: inout [UInt8]) {
        // Families are contiguous: HELP (optional), TYPE, samples. Read the TYPE first, then rename.
        var lines: [ArraySlice<UInt8>] = []
        var start = text.startIndex
        for i in text.indices where text[i] == UInt8(ascii: "\n") {
            lines.append(text[start..<i])
            start = i + 1
        }
        if start < text.endIndex { lines.append(text[start...]) }
        var i = 0
        while i < lines.count {
            let line = lines[i]
            if line.starts(with: "# HELP ".utf8), i + 1 < lines.count, let (name, type) = typeLine(lines[i + 1]) {
                let family = familyName(name, type: type)
                out.append(contentsOf: "# HELP ".utf8)
                out.append(contentsOf: family.utf8)
                out.append(contentsOf: line.dropFirst(7 + name.utf8.count))
                out.append(UInt8(ascii: "\n"))
            } else if let (name, type) = typeLine(line) {
                out.append(contentsOf: "# TYPE \(familyName(name, type: type)) \(omType(name, type: type))\n".utf8)
            } else {
                out.append(contentsOf: line)
                out.append(UInt8(ascii: "\n"))
            }
            i += 1
        }
    }

    private static func typeLine(_ line: ArraySlice<UInt8>) -> (String, String)? {
        guard line.starts(with: "# TYPE ".utf8) else { return nil }
        let parts = String(decoding: line.dropFirst(7), as: UTF8.self).split(separator: " ")
        guard parts.count == 2 else { return nil }
        return (String(parts[0]), String(parts[1]))
    }

    private static func familyName(_ name: String, type: String) -> String {
        if type == "counter", name.hasSuffix("_total") { return String(name.dropLast(6)) }
        if type == "gauge", name.hasSuffix("_info") { return String(name.dropLast(5)) }
        return name
    }

    private static func omType(_ name: String, type: String) -> String {
        type == "gauge" && name.hasSuffix("_info") ? "info" : type
    }
}
