import Foundation
import HistModel

/// One small chart of one program's memory (RSS) or CPU% over the window: the series (each point a
/// bucket's peak), limit lines per supervisor run, a mark at each limit breach, the spans the record
/// does not cover shaded, and the same time grid as the timeline. 1,000 x 120 user units, so a point
/// per bucket lands on its own integer x.
struct UsageChart {
    enum Metric { case memory, cpu }

    static let width = 1000.0
    static let height = 120.0
    static let top = 26.0
    static let bottom = 114.0

    var metric: Metric
    var program: String
    var series: UsageSeries?
    var limits: [ProgramLimit]
    var breaches: [Breach]

    /// A limit breach of this program: when, what was observed (KiB for memory limits; nil for a
    /// count limit, drawn at the top), and its hover text.
    struct Breach {
        var time: Timestamp
        var observedKB: Double?
        var title: String
    }

    func value(_ p: UsageSeries.Point) -> Double? { metric == .memory ? p.rssKB : p.cpuPercent }

    func render(axis a: TimeAxis, incomplete: [Postmortem.Incomplete], zone: TimeZone) -> String {
        let axis = TimeAxis(since: a.since, until: a.until, x0: 0, x1: Self.width)
        let points = series?.points ?? []
        let peak = points.compactMap(value).max()
        var lines: [(from: Timestamp, until: Timestamp, value: Double, label: String)] = []
        for l in limits {
            let end = l.until ?? axis.until
            switch metric {
            case .memory:
                if let v = l.maxMemoryKB { lines.append((l.from, end, v, "max_memory_mb " + Self.memory(v))) }
                if let v = l.cgroupMemoryKB { lines.append((l.from, end, v, "cgroup memory_max " + Self.memory(v))) }
            case .cpu:
                if let v = l.cpuQuotaPercent { lines.append((l.from, end, v, "cpu_quota " + Self.percent(v))) }
            }
        }
        let breachTop = metric == .memory ? breaches.compactMap(\.observedKB).max() : nil
        var hi = max(peak ?? 0, lines.map(\.value).max() ?? 0, breachTop ?? 0)
        if metric == .cpu { hi = max(hi, 100) }
        if hi <= 0 { hi = 1 }
        hi *= 1.08
        func y(_ v: Double) -> Double { Self.bottom - (Self.bottom - Self.top) * min(1, max(0, v / hi)) }

        let label = metric == .memory ? "RSS" : "CPU"
        var out = "<svg class=\"chart \(metric == .memory ? "chart-mem" : "chart-cpu")\" viewBox=\"0 0 \(Int(Self.width)) \(Int(Self.height))\" "
            + "role=\"img\" aria-label=\"\(label) of \(HTMLText.escape(program))\">"
        out += "<rect class=\"lane-bg\" x=\"0\" y=\"\(Int(Self.top))\" width=\"\(Int(Self.width))\" height=\"\(Int(Self.bottom - Self.top))\"/>"
        for t in axis.ticks() {
            out += "<line class=\"grid\" x1=\"\(svgNum(axis.x(t)))\" y1=\"\(Int(Self.top))\" x2=\"\(svgNum(axis.x(t)))\" y2=\"\(Int(Self.bottom))\"/>"
        }
        out += GapShades.svg(incomplete, axis: axis, top: Self.top, height: Self.bottom - Self.top, zone: zone)
        for l in lines {
            let x0 = axis.x(max(l.from, axis.since)), x1 = axis.x(min(l.until, axis.until))
            guard x1 > x0 else { continue }
            out += "<line class=\"limit\" x1=\"\(svgNum(x0))\" y1=\"\(svgNum(y(l.value)))\" x2=\"\(svgNum(x1))\" y2=\"\(svgNum(y(l.value)))\">"
                + "<title>limit: \(HTMLText.escape(l.label))</title></line>"
        }
        out += path(points, axis: axis, y: y)
        for b in breaches {
            let by = b.observedKB.map(y) ?? Self.top
            out += "<use href=\"#\(MarkKind.breach.symbolID)\" class=\"mark k-breach breach\" x=\"\(svgNum(axis.x(b.time)))\" y=\"\(svgNum(by))\">"
                + "<title>\(HTMLText.escape(b.title))</title></use>"
        }
        let peakText = peak.map { metric == .memory ? "peak " + Self.memory($0) : "peak " + Self.percent($0) } ?? "no samples"
        let limitText = lines.first.map { "   limit " + (metric == .memory ? Self.memory($0.value) : Self.percent($0.value)) } ?? ""
        out += "<text class=\"peak\" x=\"4\" y=\"19\">\(label) \(peakText)</text>"
        if !limitText.isEmpty { out += "<text class=\"limit-label\" x=\"\(Int(Self.width - 4))\" y=\"19\" text-anchor=\"end\">\(limitText)</text>" }
        return out + "</svg>"
    }

    /// The series as one path of relative moves (integer units: about 4 bytes a point). A break of
    /// more than three typical sweep intervals (histd down, a gap, the program not running) lifts the pen.
    /// A point that lies on the straight segment between its neighbours (a flat or evenly rising stretch,
    /// in the chart's integer units) is left out: the line drawn is the same, and no peak is ever one.
    func path(_ points: [UsageSeries.Point], axis: TimeAxis, y: (Double) -> Double) -> String {
        let present = points.compactMap { p in value(p).map { (p.time, $0) } }
        guard !present.isEmpty else { return "" }
        var steps = zip(present.dropFirst(), present).map { $0.0.milliseconds - $1.0.milliseconds }.sorted()
        let typical = steps.isEmpty ? 0 : steps[steps.count / 2]
        steps.removeAll()
        let breakAfter = max(typical * 3, 1)
        // Strokes of integer points; the pen lifts between strokes.
        var strokes: [[(x: Int, y: Int)]] = []
        var lastT: Int64?
        for (t, v) in present {
            let p = (x: Int(axis.x(t).rounded()), y: Int(y(v).rounded()))
            if let l = lastT, t.milliseconds - l <= breakAfter { strokes[strokes.count - 1].append(p) } else { strokes.append([p]) }
            lastT = t.milliseconds
        }
        var d = ""
        d.reserveCapacity(present.count * 5)
        for stroke in strokes {
            d += "M\(stroke[0].x) \(stroke[0].y)l"
            guard stroke.count > 1 else {
                // A lone point still shows: a short horizontal stroke.
                d += "2 0"
                continue
            }
            var last = stroke[0]
            var first = true
            for i in 1..<stroke.count {
                let p = stroke[i]
                if i + 1 < stroke.count {
                    let n = stroke[i + 1]
                    let onSegment = (p.x - last.x) * (n.y - last.y) == (n.x - last.x) * (p.y - last.y)
                        && min(last.x, n.x) <= p.x && p.x <= max(last.x, n.x) && min(last.y, n.y) <= p.y && p.y <= max(last.y, n.y)
                    if onSegment { continue }
                }
                let dx = p.x - last.x, dy = p.y - last.y
                d += (first || dx < 0 ? "" : " ") + String(dx) + (dy < 0 ? "" : " ") + String(dy)
                first = false
                last = p
            }
        }
        return "<path class=\"series \(metric == .memory ? "mem" : "cpu")\" d=\"\(d)\"/>"
    }

    /// "133.0 MiB", "1.2 GiB", "512 KiB".
    static func memory(_ kb: Double) -> String {
        if kb >= 1024 * 1024 { return String(format: "%.2f GiB", kb / 1024 / 1024) }
        if kb >= 1024 { return String(format: "%.1f MiB", kb / 1024) }
        return String(format: "%.0f KiB", kb)
    }

    static func percent(_ v: Double) -> String { String(format: "%.1f%%", v) }
}
