import HistModel
import HistSys

/// Builds the one human line logged per transition, e.g.
/// `crasher[4242]: crashed (exit 3) after 1.2s — restart in 2s (attempt 2 of 5)`.
struct LogLine {
    enum Level { case info, warning }
    let prefix: String
    private var parts: [String] = []
    private(set) var level: Level = .info

    init(unit: UnitKey, pid: Int32?) {
        prefix = pid.map { "\(unit)[\($0)]" } ?? "\(unit)"
    }

    var text: String? { parts.isEmpty ? nil : "\(prefix): " + parts.joined(separator: " — ") }

    mutating func ended(status: ExitStatus, classification: ExitClassification, uptime: Duration) {
        let after = "after \(Self.format(uptime))"
        switch classification {
        case .clean: parts.append("exited cleanly \(after)")
        case .crash:
            level = .warning
            switch status {
            case .exited(let code): parts.append("crashed (exit \(code)) \(after)")
            case .signaled: parts.append("crashed (\(status)) \(after)")
            }
        case .stopped: parts.append("stopped (\(status)) \(after)")
        case .killed: parts.append("killed \(after)")
        case .limit: level = .warning; parts.append("ended for a limit breach (\(status)) \(after)")
        case .spawnFailed: parts.append("could not start")
        }
    }

    mutating func restart(delay: Duration, attempt: Int, max: Int) {
        let of = max > 0 ? " of \(max)" : ""
        parts.append("restart in \(Self.format(delay)) (attempt \(attempt)\(of))")
    }

    mutating func gaveUp(restarts: Int) {
        level = .warning
        parts.append("giving up after \(restarts) restart(s); state failed until started again")
    }

    mutating func stopping(reason: StopReason, signal: Int32) {
        parts.append("stopping (\(reason.rawValue)): \(SignalName.name(signal))")
    }

    mutating func killed(after: Duration) {
        level = .warning
        parts.append("did not stop within \(Self.format(after)) — SIGKILL")
    }

    mutating func spawnFailed(errno: Int32, step: String, command: String) {
        level = .warning
        parts.append("could not start \(command): \(step): \(Sys.errnoText(errno))")
    }

    mutating func limit(_ kind: LimitKind, observed: Int64, threshold: Int64) {
        level = .warning
        parts.append("limit \(kind.rawValue) breached (\(observed) > \(threshold))")
    }

    mutating func recycled() { parts.append("recycled (exit 0): replacing now") }

    /// "1.2s", "250ms", "3m20s".
    static func format(_ d: Duration) -> String {
        let ms = d.milliseconds
        if ms < 1000 { return "\(ms)ms" }
        if ms < 60_000 {
            let tenths = (ms + 50) / 100
            return tenths % 10 == 0 ? "\(tenths / 10)s" : "\(tenths / 10).\(tenths % 10)s"
        }
        return HistDuration.format(d)
    }
}
