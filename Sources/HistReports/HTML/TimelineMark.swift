import Foundation
import HistModel

/// One mark on the timeline: when, which lane, what kind, and its hover text (plain text; escaped
/// when drawn). For a summarised kind (`MarkKind.summarised`) `title` is the mark's line in its lane's
/// shared hover list, without the program name.
struct TimelineMark {
    var time: Timestamp
    /// The lane: a program or pool name, or nil for histd itself.
    var program: String?
    var kind: MarkKind
    /// Empty for a summarised mark past the first `TimelineSVG.listLimit` of its lane and kind: its
    /// lane's hover list counts it but does not list it (a busy hour has thousands of starts and ends).
    var title: String
    /// For an operator action: what was done and by whom, without the time (the report's table of
    /// operator actions).
    var action: String?

    /// Every mark of the report: crashes, limit kills and spawn failures from the crashes report (with
    /// their exit code or signal and stderr), the rest from the timeline's events (`MarkKind.timelineKind`).
    static func all(_ pm: Postmortem, zone: TimeZone) -> [TimelineMark] {
        let clock = MarkClock(since: pm.scope.since, until: pm.scope.until, zone: zone)
        var out: [TimelineMark] = []
        out.reserveCapacity(pm.timeline.rows.count)
        // (program, pid, ms) of every end the crashes report stands for: its `exit`/`crash` event is not
        // drawn a second time.
        struct End: Hashable { var program: String; var pid: Int64; var ms: Int64 }
        var crashEnds = Set<End>()
        let c = pm.crashes
        let cc = ColumnIndex(c)
        if let ct = cc["time"], let cp = cc["program"] {
            for row in c.rows {
                guard case .time(let ts) = row[ct], case .text(let program) = row[cp] else { continue }
                let reason: String? = if let i = cc["reason"], case .text(let r) = row[i] { r } else { nil }
                let pidValue = cc["pid"].map { row[$0] } ?? .null
                if reason == "spawn_failed" {
                    // No process: the failed step and errno stand in the stderr tail column.
                    var title = "spawn failed: \(program) at \(clock.text(ts))"
                    if let i = cc["stderr_tail"], case .text(let why) = row[i] { title += ", " + String(why.prefix(200)) }
                    if let i = cc["restart_delay_s"], let d = row[i].double { title += ", retry in \(SpanText.text(milliseconds: Int64(d * 1000)))" }
                    out.append(TimelineMark(time: ts, program: program, kind: .spawnFailed, title: title))
                    continue
                }
                let kind: MarkKind = reason == "limit" ? .limitKill : (cc["exit_code"].map { row[$0] } ?? .null) == .null ? .crashSignal : .crashExit
                if case .integer(let pid) = pidValue { crashEnds.insert(End(program: program, pid: pid, ms: ts.milliseconds)) }
                var title = "\(kind.label): \(program) pid \(Renderer.tableText(pidValue, zone: zone)), "
                    + CrashGroup.ending(row) { r, name in cc[name].map { r[$0] } ?? .null } + " at \(clock.text(ts))"
                if let i = cc["uptime_s"], let up = row[i].double { title += ", after \(SpanText.text(milliseconds: Int64(up * 1000)))" }
                if let i = cc["restart_delay_s"], let d = row[i].double { title += ", restart in \(SpanText.text(milliseconds: Int64(d * 1000)))" }
                if let i = cc["stderr_tail"], case .text(let tail) = row[i], let last = tail.split(separator: "\n").last {
                    title += "\nstderr: " + String(last.prefix(160))
                }
                out.append(TimelineMark(time: ts, program: program, kind: kind, title: title))
            }
        }
        let tl = pm.timeline
        let col = ColumnIndex(tl)
        guard let ct = col["time"], let ck = col["kind"], let cp = col["program"], let cpid = col["pid"],
              let cv = col["value"], let cd = col["detail"] else { return out }
        let cu = col["unit"]
        // Why histd asked an instance to stop (stop_requested's reason), for the line of its end.
        var stopReason: [End: String] = [:]
        for row in tl.rows {
            guard case .text("stop_requested") = row[ck], case .text(let p) = row[cp], case .integer(let pid) = row[cpid],
                  case .text(let d) = row[cd], let reason = EventUnits.jsonStringField(d, "reason") else { continue }
            stopReason[End(program: p, pid: pid, ms: 0)] = reason
        }
        // Listed marks per (lane, kind) of the summarised kinds: past TimelineSVG.listLimit no title is built.
        struct LaneKind: Hashable { var program: String?; var kind: MarkKind }
        var listed: [LaneKind: Int] = [:]
        func wanted(_ program: String?, _ kind: MarkKind) -> Bool {
            let n = listed[LaneKind(program: program, kind: kind), default: 0]
            listed[LaneKind(program: program, kind: kind)] = n + 1
            return n < TimelineSVG.listLimit
        }
        for row in tl.rows {
            guard case .time(let ts) = row[ct], case .text(let event) = row[ck] else { continue }
            let program: String? = if case .text(let p) = row[cp] { p } else { nil }
            let pid: Int64? = if case .integer(let n) = row[cpid] { n } else { nil }
            var kind: MarkKind
            if let k = MarkKind.timelineKind(event: event) {
                kind = k
            } else if event == "crash", let program, let pid, !crashEnds.contains(End(program: program, pid: pid, ms: ts.milliseconds)) {
                // A crash-class end the crashes report leaves out: one an operator caused (a signal sent
                // through histd). It is drawn as an end, not a crash.
                kind = .exit
            } else {
                continue
            }
            // A limit kill's end is an `exit` event too: the limit-kill mark already stands for it.
            if kind == .exit, let program, let pid, crashEnds.contains(End(program: program, pid: pid, ms: ts.milliseconds)) { continue }
            let detail: String? = if case .text(let d) = row[cd] { d } else { nil }
            switch kind {
            case .start:
                let title = wanted(program, kind) ? "\(clock.text(ts)) pid \(pid.map(String.init) ?? "-")" : ""
                out.append(TimelineMark(time: ts, program: program, kind: kind, title: title))
            case .exit:
                guard wanted(program, kind) else {
                    out.append(TimelineMark(time: ts, program: program, kind: kind, title: ""))
                    continue
                }
                var line = "\(clock.text(ts)) pid \(pid.map(String.init) ?? "-")"
                if let up = row[cv].double { line += " after \(SpanText.text(milliseconds: Int64(up)))" }
                if event == "crash" { line += ", ended by an operator's signal (not a crash)" }
                if let program, let pid, let why = stopReason[End(program: program, pid: pid, ms: 0)] { line += ", stop: \(why)" }
                out.append(TimelineMark(time: ts, program: program, kind: kind, title: line))
            case .operatorAction:
                // A socket reload is an operator_action already; its config_reload row would draw it twice.
                if event == "config_reload", let detail, EventUnits.jsonStringField(detail, "trigger") != "sighup" { continue }
                var title: String
                if event == "config_reload" {
                    title = "SIGHUP"
                    if let detail, let pid = EventUnits.jsonNumberField(detail, "sender_pid") { title += " from pid \(pid)" }
                    if let detail, let uid = EventUnits.jsonNumberField(detail, "sender_uid") { title += " (uid \(uid))" }
                    title += ": config reload " + (detail.flatMap { EventUnits.jsonStringField($0, "result") } ?? "")
                } else {
                    title = detail ?? "operator action"
                }
                out.append(TimelineMark(time: ts, program: program, kind: kind, title: "\(title) at \(clock.text(ts))", action: title))
            default:
                var title = event.replacingOccurrences(of: "_", with: " ") + ": " + (program ?? "histd")
                if let pid { title += " pid \(pid)" }
                title += " at \(clock.text(ts))"
                if row[cv] != .null {
                    title += ", value \(Renderer.tableText(row[cv], zone: zone))"
                    if let cu, case .text(let u) = row[cu] { title += " \(u)" }
                }
                if let detail { title += "\n" + String(detail.prefix(300)) }
                out.append(TimelineMark(time: ts, program: program, kind: kind, title: title))
            }
        }
        return out
    }
}

/// Column positions of a report result by name.
struct ColumnIndex {
    let index: [String: Int]
    init(_ r: ReportResult) { index = Dictionary(r.columns.enumerated().map { ($1.name, $0) }, uniquingKeysWith: { a, _ in a }) }
    subscript(_ name: String) -> Int? { index[name] }
}

/// Times in hover titles: the clock only ("10:15:07") when the whole window lies in one local day, as
/// the page's header gives the date and the UTC offset; else with the date ("11-21 10:15:07").
struct MarkClock {
    var zone: TimeZone
    var sameDay: Bool

    init(since: Timestamp, until: Timestamp, zone: TimeZone) {
        self.zone = zone
        let a = TimeText.local(since, in: zone, offset: false), b = TimeText.local(Timestamp(milliseconds: until.milliseconds - 1), in: zone, offset: false)
        sameDay = a.prefix(10) == b.prefix(10)
    }

    func text(_ t: Timestamp) -> String {
        let full = TimeText.local(t, in: zone, offset: false)  // "2026-11-21 10:15:07"
        return String(full.dropFirst(sameDay ? 11 : 5))
    }
}
