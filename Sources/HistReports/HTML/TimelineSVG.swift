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

    /// Given lanes (nil = histd's) and marks, over since ..< until.
    init(lanes: [String?], marks: [TimelineMark], since: Timestamp, until: Timestamp) {
        axis = TimeAxis(since: since, until: until, x0: Self.labelWidth, x1: Self.width - 10)
        self.lanes = lanes
        self.marks = marks
    }

    /// The lane order (programs only), for the charts to follow.
    var programs: [String] { lanes.compactMap { $0 } }

    /// Most lines one shared hover list holds; the rest are counted (every event is in the Markdown
    /// and JSON postmortem's timeline).
    static let listLimit = 40

    func render(incomplete: [Postmortem.Incomplete], zone: TimeZone) -> String {
        let height = Self.axisHeight + Double(lanes.count) * Self.laneHeight + 4
        var out = "<svg class=\"timeline\" viewBox=\"0 0 \(Int(Self.width)) \(Int(height))\" role=\"img\" aria-label=\"Timeline of events per program\">"
        out.reserveCapacity(64_000 + marks.count * 40)
        var laneIndex: [String: Int] = [:]
        for (i, lane) in lanes.enumerated() {
            let y = Self.axisHeight + Double(i) * Self.laneHeight
            if i % 2 == 0 { out += "<rect class=\"lane-bg\" x=\"0\" y=\"\(svgNum(y))\" width=\"\(Int(Self.width))\" height=\"\(Int(Self.laneHeight))\"/>" }
            let name = lane ?? "histd"
            // The full name as a hover title only where the label is cut.
            let label = name.count > 24 ? HTMLText.escape(String(name.prefix(23))) + "…<title>\(HTMLText.escape(name))</title>" : HTMLText.escape(name)
            out += "<text class=\"lane-label\" x=\"4\" y=\"\(svgNum(y + 14))\">\(label)</text>"
            if let lane { laneIndex[lane] = i }
        }
        for t in axis.ticks() {
            let x = axis.x(t)
            out += "<line class=\"grid\" x1=\"\(svgNum(x))\" y1=\"\(Int(Self.axisHeight - 4))\" x2=\"\(svgNum(x))\" y2=\"\(svgNum(height))\"/>"
            out += "<text x=\"\(svgNum(x))\" y=\"14\" text-anchor=\"middle\">\(HTMLText.escape(axis.label(t, zone: zone)))</text>"
        }
        out += GapShades.svg(incomplete, axis: axis, top: Self.axisHeight - 4, height: height - Self.axisHeight + 4, zone: zone)
        var byLane = [[TimelineMark]](repeating: [], count: lanes.count)
        for m in marks { byLane[m.program.flatMap { laneIndex[$0] } ?? 0].append(m) }
        for (lane, laneMarks) in byLane.enumerated() where !laneMarks.isEmpty {
            // One group per lane puts its marks on the lane's centre line: no y on every mark.
            let y = Self.axisHeight + Double(lane) * Self.laneHeight + Self.laneHeight / 2
            out += "<g transform=\"translate(0 \(svgNum(y)))\">"
            let name = lanes[lane] ?? "histd"
            for kind in MarkKind.allCases where kind.summarised {
                let these = laneMarks.filter { $0.kind == kind }
                guard !these.isEmpty else { continue }
                out += summary(kind, these, lane: name)
            }
            for m in laneMarks where !m.kind.summarised {
                out += "<use href=\"#\(m.kind.symbolID)\" class=\"mark k-\(m.kind.rawValue)\" x=\"\(svgNum(axis.x(m.time)))\">"
                    + "<title>\(HTMLText.escape(m.title))</title></use>"
            }
            out += "</g>"
        }
        return out + "</svg>\n"
    }

    /// A lane's marks of one frequent kind (starts, ends that are not crashes) under one hover title
    /// that lists them, each drawn once per pixel column (marks closer than that would overlap anyway).
    func summary(_ kind: MarkKind, _ marks: [TimelineMark], lane: String) -> String {
        let what = kind == .start ? "start" : "end that is not a crash (exit, stop)"
        let plural = kind == .start ? "starts" : "ends that are not crashes (exits, stops)"
        var title = "\(lane): \(marks.count) \(marks.count == 1 ? what : plural)"
        for m in marks.prefix(Self.listLimit) { title += "\n" + m.title }
        if marks.count > Self.listLimit {
            title += "\n… and \(marks.count - Self.listLimit) more (the Markdown and JSON postmortem list every event)"
        }
        var out = "<g class=\"mark k-\(kind.rawValue)\"><title>\(HTMLText.escape(title))</title>"
        var lastX = Int.min
        for m in marks {
            let x = Int(axis.x(m.time).rounded())
            if x == lastX { continue }
            lastX = x
            out += "<use href=\"#\(kind.symbolID)\" x=\"\(x)\"/>"
        }
        return out + "</g>"
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
