import HistCore
import HistModel

/// Turns the engine's outcomes for one request (one per name) into its reply: a `result` word
/// (the most serious one), a message with a line per unit (`web: restarted, pid 4711 -> 4730`),
/// and the units as JSON.
enum ControlAnswer {
    /// Result words, most serious first; histctl maps them to exit codes (docs/CONTROL.md).
    static let severity = ["shutting_down", "failed", "timeout", "invalid", "no_such_unit", "done", "already"]

    static func reply(for request: ControlRequest, parts: [(name: String, outcome: CommandOutcome)]) -> ControlReply {
        var results: [String] = [], lines: [String] = [], units: [String] = []
        for (name, outcome) in parts {
            switch outcome {
            case .done(let changes):
                results.append("done")
                if changes.isEmpty { lines.append("\(name): \(past(request))") }
                for ch in changes {
                    lines.append(describe(ch, request))
                    units.append("{\"name\":\(QuotedString.quote(ch.unit.description)),\"old_pid\":\(ch.oldPID.map(String.init) ?? "null"),\"new_pid\":\(ch.newPID.map(String.init) ?? "null"),\"state\":\"\(ch.state.rawValue)\"}")
                }
            case .noSuchUnit(let n, let suggestion):
                results.append("no_such_unit")
                lines.append("no such program \"\(n)\"" + (suggestion.map { " (did you mean \"\($0)\"?)" } ?? ""))
            case .already(let text):
                results.append("already")
                lines.append(text)
            case .shuttingDown:
                results.append("shutting_down")
                lines.append("\(name): histd is shutting down; not \(past(request))")
            case .refused(let text):
                results.append("invalid")
                lines.append(text)
            case .failed(let text):
                results.append("failed")
                lines.append(text)
            case .timedOut(let text):
                results.append("timeout")
                lines.append("\(name): \(text)")
            }
        }
        let result = severity.first { results.contains($0) } ?? "done"
        return ControlReply(id: request.id, ok: result == "done" || result == "already", result: result,
                            message: lines.joined(separator: "\n"), members: [("units", "[" + units.joined(separator: ",") + "]")])
    }

    static func past(_ request: ControlRequest) -> String {
        switch request.verb {
        case .start: "started"
        case .stop: "stopped"
        case .restart: "restarted"
        case .signal: "signalled"
        case .scale: "scaled to \(request.count ?? 0)"
        case .reload: "reloaded"
        case .status: "read"
        }
    }

    static func describe(_ ch: UnitChange, _ request: ControlRequest) -> String {
        let name = ch.unit.description
        func pid(_ p: Int32?) -> String { p.map(String.init) ?? "-" }
        switch request.verb {
        case .restart:
            return request.wait ? "\(name): restarted, pid \(pid(ch.oldPID)) -> \(pid(ch.newPID))"
                                : "\(name): restarting (was pid \(pid(ch.oldPID)))"
        case .start: return request.wait ? "\(name): started, pid \(pid(ch.newPID))" : "\(name): starting"
        case .stop: return request.wait ? "\(name): stopped (was pid \(pid(ch.oldPID)))" : "\(name): stopping (pid \(pid(ch.oldPID)))"
        case .signal: return "\(name): sent \(request.signal?.uppercased() ?? "?") to pid \(pid(ch.oldPID))"
        case .scale: return "\(name): \(ch.state.rawValue), pid \(pid(ch.newPID ?? ch.oldPID))"
        case .reload, .status: return name
        }
    }
}
