import Foundation
import HistModel

/// One mark on the timeline: when, which lane, what kind, and its hover text (plain text; escaped
/// when drawn).
struct TimelineMark {
    var time: Timestamp
    /// The lane: a program or pool name, or nil for histd itself.
    var program: String?
    var kind: MarkKind
    var title: String

    /// Every mark of the report: crashes and limit kills from the crashes report (with their exit
    /// code or signal), the rest from the timeline's events (`MarkKind.timelineKind`).
    static func all(_ pm: Postmortem, zone: TimeZone) -> [TimelineMark] {
        func t(_ ts: Timestamp) -> String { TimeText.local(ts, in: zone) }
        var out: [TimelineMark] = []
        var crashEnds = Set<String>()
        let c = pm.crashes
        for i in c.rows.indices {
            guard case .time(let ts) = c.value(i, "time"), case .text(let program) = c.value(i, "program") else { continue }
            let isLimit = c.value(i, "reason") == .text("limit")
            let bySignal = c.value(i, "exit_code") == .null
            let kind: MarkKind = isLimit ? .limitKill : (bySignal ? .crashSignal : .crashExit)
            let pid = Renderer.tableText(c.value(i, "pid"), zone: zone)
            crashEnds.insert("\(program)\u{0}\(pid)\u{0}\(ts.milliseconds)")
            var title = "\(kind.label): \(program) pid \(pid), \(CrashGroup.ending(c.rows[i]) { row, name in c.value(i, name) })"
            title += " at \(t(ts))"
            if let up = c.value(i, "uptime_s").double { title += ", after \(SpanText.text(milliseconds: Int64(up * 1000)))" }
            if let d = c.value(i, "restart_delay_s").double { title += ", restart in \(SpanText.text(milliseconds: Int64(d * 1000)))" }
            if case .text(let tail) = c.value(i, "stderr_tail"), let last = tail.split(separator: "\n").last {
                title += "\nstderr: " + String(last.prefix(200))
            }
            out.append(TimelineMark(time: ts, program: program, kind: kind, title: title))
        }
        let tl = pm.timeline
        let col = Dictionary(tl.columns.enumerated().map { ($1.name, $0) }, uniquingKeysWith: { a, _ in a })
        guard let ct = col["time"], let ck = col["kind"], let cp = col["program"], let cpid = col["pid"],
              let cv = col["value"], let cd = col["detail"] else { return out }
        let cu = col["unit"]
        for row in tl.rows {
            guard case .time(let ts) = row[ct], case .text(let event) = row[ck], let kind = MarkKind.timelineKind(event: event) else { continue }
            let program: String? = if case .text(let p) = row[cp] { p } else { nil }
            let pid = Renderer.tableText(row[cpid], zone: zone)
            // A limit kill's end is an `exit` event too: the limit-kill mark already stands for it.
            if kind == .exit, let program, crashEnds.contains("\(program)\u{0}\(pid)\u{0}\(ts.milliseconds)") { continue }
            var title = event.replacingOccurrences(of: "_", with: " ") + ": " + (program ?? "histd")
            if row[cpid] != .null { title += " pid \(pid)" }
            title += " at \(t(ts))"
            if row[cv] != .null {
                title += ", value \(Renderer.tableText(row[cv], zone: zone))"
                if let cu, case .text(let u) = row[cu] { title += " \(u)" }
            }
            if case .text(let d) = row[cd] { title += "\n" + String(d.prefix(300)) }
            out.append(TimelineMark(time: ts, program: program, kind: kind, title: title))
        }
        return out
    }
}
