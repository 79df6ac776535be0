import Foundation
import HistModel

/// The timeline: one lane per program that had something happen (programs with crashes first, then
/// by name), a first lane for histd itself, marks by kind, round time ticks, and the spans the record
/// does not cover shaded across all lanes.
struct TimelineSVG {
    static let width = 1200.0
    static let labelWidth = 160.0
    static let laneHeight = 20.0
    static let axisHeight = 22.0

    var axis: TimeAxis
    var lanes: [String?]
    var marks: [TimelineMark]

    init(_ pm: Postmortem, marks: [TimelineMark]) {
        axis = TimeAxis(since: pm.scope.since, until: pm.scope.until, x0: Self.labelWidth, x1: Self.width - 10)
        self.marks = marks
        var crashes: [String: Int] = [:]
        var seen = Set<String>()
        for m in marks {
            guard let p = m.program else { continue }
            seen.insert(p)
            if m.kind == .crashExit || m.kind == .crashSignal || m.kind == .limitKill { crashes[p, default: 0] += 1 }
        }
        lanes = [nil] + seen.sorted { (crashes[$0] ?? 0, $1) > (crashes[$1] ?? 0, $0) }
    }

    /// The lane order (programs only), for the charts to follow.
    var programs: [String] { lanes.compactMap { $0 } }

    func render(incomplete: [Postmortem.Incomplete], zone: TimeZone) -> String {
        let height = Self.axisHeight + Double(lanes.count) * Self.laneHeight + 4
        var out = "<svg class=\"timeline\" viewBox=\"0 0 \(Int(Self.width)) \(Int(height))\" role=\"img\" aria-label=\"Timeline of events per program\">"
        var laneIndex: [String: Int] = [:]
        for (i, lane) in lanes.enumerated() {
            let y = Self.axisHeight + Double(i) * Self.laneHeight
            if i % 2 == 0 { out += "<rect class=\"lane-bg\" x=\"0\" y=\"\(svgNum(y))\" width=\"\(Int(Self.width))\" height=\"\(Int(Self.laneHeight))\"/>" }
            let name = lane ?? "histd"
            let shown = name.count > 24 ? String(name.prefix(23)) + "…" : name
            out += "<text class=\"lane-label\" x=\"4\" y=\"\(svgNum(y + 14))\">\(HTMLText.escape(shown))<title>\(HTMLText.escape(name))</title></text>"
            if let lane { laneIndex[lane] = i }
        }
        for t in axis.ticks() {
            let x = axis.x(t)
            out += "<line class=\"grid\" x1=\"\(svgNum(x))\" y1=\"\(Int(Self.axisHeight - 4))\" x2=\"\(svgNum(x))\" y2=\"\(svgNum(height))\"/>"
            out += "<text x=\"\(svgNum(x))\" y=\"14\" text-anchor=\"middle\">\(HTMLText.escape(axis.label(t, zone: zone)))</text>"
        }
        out += GapShades.svg(incomplete, axis: axis, top: Self.axisHeight - 4, height: height - Self.axisHeight + 4, zone: zone)
        for m in marks {
            let lane = m.program.flatMap { laneIndex[$0] } ?? 0
            let y = Self.axisHeight + Double(lane) * Self.laneHeight + Self.laneHeight / 2
            out += "<use href=\"#\(m.kind.symbolID)\" class=\"mark k-\(m.kind.rawValue)\" x=\"\(svgNum(axis.x(m.time)))\" y=\"\(svgNum(y))\">"
                + "<title>\(HTMLText.escape(m.title))</title></use>"
        }
        return out + "</svg>\n"
    }
}

/// The spans the record does not cover, as hatched rectangles (one per span, on every chart), each
/// with a hover title.
enum GapShades {
    static func svg(_ incomplete: [Postmortem.Incomplete], axis: TimeAxis, top: Double, height: Double, zone: TimeZone) -> String {
        var out = ""
        for g in incomplete {
            let x0 = axis.x(g.from), x1 = axis.x(g.until)
            // A gap of one instant is still shown: at least 3 units wide.
            let w = max(3, x1 - x0)
            out += "<rect class=\"gap\" x=\"\(svgNum(min(x0, axis.x1 - w)))\" y=\"\(svgNum(top))\" width=\"\(svgNum(w))\" height=\"\(svgNum(height))\">"
                + "<title>The record is incomplete between \(HTMLText.escape(TimeText.local(g.from, in: zone))) and "
                + "\(HTMLText.escape(TimeText.local(g.until, in: zone))): \(HTMLText.escape(g.reason))</title></rect>"
        }
        return out
    }
}

/// A coordinate with at most one decimal ("12", "12.5").
func svgNum(_ v: Double) -> String {
    let r = (v * 10).rounded() / 10
    return r == r.rounded() ? String(Int(r)) : String(r)
}
