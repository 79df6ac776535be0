import Foundation
import GRDB
import HistModel
import HistStore

/// The event log as lines, for `histctl events` (queries/events.sql). Read-only; `--follow` polls it.
public enum EventFeed {
    /// One event.
    public struct Event: Hashable, Sendable {
        public var id: Int64
        public var time: Timestamp
        /// Program, or pool worker as `pool.N`; nil for supervisor events and recording gaps.
        public var program: String?
        public var pid: Int32?
        public var event: String
        public var value: Int64?
        /// The stored JSON detail, nil when none.
        public var detailJSON: String?
        public var exitCode: Int32?
        public var signal: Int32?
        public var exitClass: String?

        /// A short human description: `exit 3 after 1.2s`, `in 2s (attempt 2)`, `operator, SIGTERM`, ...
        public var summary: String {
            let detail = detailJSON.flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] } ?? [:]
            func seconds(_ ms: Int64) -> String { HistDuration.format(.milliseconds(ms)) }
            switch event {
            case "exit", "crash":
                var s = exitCode.map { "exit \($0)" } ?? signal.map { "signal \(SignalName.name($0))" } ?? "ended"
                if let v = value { s += " after \(seconds(v))" }
                if let c = exitClass, c != "crash", c != "clean" { s += " (\(c))" }
                return s
            case "restart_scheduled":
                return "in \(seconds(value ?? 0))" + ((detail["attempt"] as? Int).map { " (attempt \($0))" } ?? "")
            case "stop_requested":
                return "\(detail["reason"] as? String ?? "stop"), \(SignalName.name(Int32(value ?? 15)))"
            case "killed": return "SIGKILL after \(seconds(value ?? 0))"
            case "gave_up": return "after \(value ?? 0) restart(s)"
            case "scale_up", "scale_down": return "\(detail["from"] ?? "?") -> \(value ?? 0)"
            case "spawn_failed": return "\(detail["step"] as? String ?? "spawn"): \(detail["reason"] as? String ?? "errno \(value ?? 0)")"
            case "config_reload":
                let who = (detail["sender_pid"] as? Int).map { " from pid \($0)" } ?? ""
                let uid = (detail["sender_uid"] as? Int).map { " (uid \($0))" } ?? ""
                return "\(detail["result"] as? String ?? "?") (\(detail["trigger"] as? String ?? "?")\(who)\(uid)), reload \(value ?? 0)"
            case "limit_breach": return "\(detail["limit"] as? String ?? "limit"): \(value ?? 0) > \(detail["threshold"] ?? "?")"
            default:
                var parts: [String] = []
                if let value { parts.append(String(value)) }
                if let detailJSON { parts.append(detailJSON) }
                return parts.joined(separator: " ")
            }
        }
    }

    /// Events after `afterID` (and at or after `since`), oldest first, at most `limit`.
    public static func fetch(_ db: ReportDatabase, since: Timestamp, afterID: Int64 = -1, programs: [String] = [],
                             limit: Int = 10_000) throws(ReportError) -> [Event] {
        guard let sql = BundledSQL.query("events") else { throw ReportError(.missingQuery, "query events.sql is not built into histctl") }
        return try db.read { database in
            let args: [String: (any DatabaseValueConvertible)?] = [
                "since": since.milliseconds, "after_id": afterID, "programs": Renderer.json(programs), "limit": limit,
            ]
            return try Row.fetchAll(database, sql: sql, arguments: StatementArguments(args)).map { r in
                Event(id: r["id"], time: Timestamp(milliseconds: r["time"]), program: r["program"], pid: r["pid"],
                      event: r["event"], value: r["value"], detailJSON: r["detail"], exitCode: r["exit_code"],
                      signal: r["signal"], exitClass: r["class"])
            }
        }
    }

    /// The config file of the latest supervisor run that names one (for `histctl logs`' log folder).
    public static func latestConfigPath(_ db: ReportDatabase) throws(ReportError) -> String? {
        try db.read { try String.fetchOne($0, sql: "SELECT config_path FROM runs WHERE config_path IS NOT NULL ORDER BY id DESC LIMIT 1") }
    }
}
