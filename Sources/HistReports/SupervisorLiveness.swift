import Foundation
import GRDB
import HistModel

/// Whether the supervisor run the record calls open is really alive: its histd's pid must exist
/// with the recorded start time (and the machine not have rebooted since). The kernel is the source
/// of truth; an open run whose process is gone means histd died (kill -9, crash, power loss).
public struct SupervisorLiveness: Hashable, Sendable {
    public enum Verdict: String, Hashable, Sendable {
        /// No open run (histd stopped and closed its run), or no run at all.
        case noOpenRun = "no_open_run"
        /// The open run's histd is alive.
        case alive
        /// The open run's histd is gone.
        case dead
        /// The open run has no start time recorded (an older histd) and its pid exists: cannot tell.
        case unknown
    }

    public var verdict: Verdict
    public var runID: Int64?
    public var pid: Int32?

    /// Checks the latest run against `/proc` (`procRoot` for tests) and this boot's id.
    public static func check(_ db: ReportDatabase, procRoot: String = "/proc") throws(ReportError) -> SupervisorLiveness {
        let row = try db.read { db in
            try Row.fetchOne(db, sql: "SELECT id, pid, start_ticks, boot_id, stopped_at FROM runs ORDER BY started_at DESC, id DESC LIMIT 1")
        }
        guard let row, (row["stopped_at"] as Int64?) == nil else { return SupervisorLiveness(verdict: .noOpenRun) }
        let runID: Int64 = row["id"], pid: Int32 = row["pid"]
        let ticks: Int64? = row["start_ticks"], boot: String? = row["boot_id"]
        let currentBoot = (try? String(contentsOfFile: "\(procRoot)/sys/kernel/random/boot_id", encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines)
        if let boot, let currentBoot, boot != currentBoot { return SupervisorLiveness(verdict: .dead, runID: runID, pid: pid) }
        guard let live = startTicks(pid: pid, procRoot: procRoot) else {
            return SupervisorLiveness(verdict: .dead, runID: runID, pid: pid)
        }
        guard let ticks else { return SupervisorLiveness(verdict: .unknown, runID: runID, pid: pid) }
        return SupervisorLiveness(verdict: UInt64(bitPattern: ticks) == live ? .alive : .dead, runID: runID, pid: pid)
    }

    /// Field 22 of /proc/PID/stat (after the last ')'), nil when the process does not exist or is a zombie.
    static func startTicks(pid: Int32, procRoot: String) -> UInt64? {
        guard pid > 0, let data = FileManager.default.contents(atPath: "\(procRoot)/\(pid)/stat") else { return nil }
        let text = String(decoding: data, as: UTF8.self)
        guard let close = text.lastIndex(of: ")") else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ")
        // fields[0] is the state (field 3); start time is field 22, i.e. fields[19].
        guard fields.count > 19, fields[0] != "Z" else { return nil }
        return UInt64(fields[19])
    }
}
