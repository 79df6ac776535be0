#if canImport(Glibc)
import Glibc
#endif
import HistModel
import TOMLKit

/// `[supervisor]`.
extension ConfigValidator {
    static let supervisorKeys = [
        "db", "log_dir", "shutdown_timeout", "snapshot_interval", "scan_interval", "retention",
        "snapshot_retention", "orphan_ignore", "stop_leftovers", "restore_state", "log_max_size", "log_keep",
        "control_socket", "control_group", "read_group", "log_timestamps", "group",
    ] + metricsKeys
    /// The range issue 4 gives for `snapshot_interval` and `scan_interval`.
    static let samplingRange: (Duration, Duration) = (.milliseconds(100), .seconds(3600))

    func supervisor(_ value: (any TOMLValueConvertible)?, path: [String]) -> (SupervisorSpec, ProgramDefaults) {
        var spec = SupervisorSpec()
        spec.logDir = FileSystem.absolute(spec.logDir, relativeTo: configDirectory)
        var defaults = ProgramDefaults()
        guard let value else { return (spec, defaults) }
        guard let table = value.table else {
            wrongType(path, expected: "a table [supervisor]", got: value)
            return (spec, defaults)
        }
        checkKnownKeys(table, path: path, known: Self.supervisorKeys)

        if let v = table["db"], let p = self.path(v, path + ["db"]) {
            if FileSystem.kind(p) == .directory { report(path + ["db"], "\(p) is a directory; name the database file") }
            else { spec.db = p }
        }
        if let v = table["log_dir"], let p = self.path(v, path + ["log_dir"]) {
            // It may not exist yet (histd creates it), but it must not be a file.
            let kind = FileSystem.kind(p)
            if kind == .file || kind == .other { report(path + ["log_dir"], "\(p) exists and is not a directory") }
            else { spec.logDir = p }
        }
        if let v = table["shutdown_timeout"], let d = duration(v, path + ["shutdown_timeout"]) { spec.shutdownTimeout = d }
        let (low, high) = Self.samplingRange
        if let v = table["snapshot_interval"], let d = durationOrOff(v, path + ["snapshot_interval"], atLeast: low, atMost: high) {
            spec.snapshotInterval = d
        }
        if let v = table["scan_interval"], let d = durationOrOff(v, path + ["scan_interval"], atLeast: low, atMost: high) {
            spec.scanInterval = d
        }
        if let v = table["retention"], let d = duration(v, path + ["retention"], atLeast: .seconds(60)) { spec.retention = d }
        if let v = table["snapshot_retention"], let d = duration(v, path + ["snapshot_retention"], atLeast: .seconds(60)) {
            spec.snapshotRetention = d
        }
        spec.metrics = metrics(table, path: path)
        if let v = table["orphan_ignore"] { spec.orphanIgnore = stringArray(v, path + ["orphan_ignore"]) }
        if let v = table["stop_leftovers"], let b = bool(v, path + ["stop_leftovers"]) { spec.stopLeftovers = b }
        if let v = table["restore_state"], let b = bool(v, path + ["restore_state"]) { spec.restoreState = b }
        if let v = table["control_socket"], let p = self.path(v, path + ["control_socket"]) {
            if FileSystem.kind(p) == .directory { report(path + ["control_socket"], "\(p) is a directory; name the socket file") }
            else { spec.controlSocket = p }
        }
        for key in ["control_group", "read_group"] {
            guard let v = table[key] else { continue }
            guard let name = v.string, !name.isEmpty else { wrongType(path + [key], expected: "a group name", got: v); continue }
            guard getgrnam(name) != nil else { report(path + [key], "no such group \"\(name)\""); continue }
            if key == "control_group" { spec.controlGroup = name } else { spec.readGroup = name }
        }
        if let v = table["log_timestamps"], let b = bool(v, path + ["log_timestamps"]) { spec.logTimestamps = b }
        if let v = table["log_max_size"], let b = size(v, path + ["log_max_size"], in: 1024...(Int64(1) << 50)) { defaults.logMaxBytes = Int(b) }
        if let v = table["log_keep"], let i = int(v, path + ["log_keep"], in: 0...1000, what: "a number of old log files between 0 and 1000") {
            defaults.logKeep = i
        }
        if let v = table["group"], let name = string(v, path + ["group"]) {
            if let gid = Accounts.groupID(name) {
                spec.group = name
                spec.groupID = gid
            } else {
                report(path + ["group"], "unknown group \"\(name)\": it is not in the group database (create it with: groupadd --system \(name))")
            }
        }
        return (spec, defaults)
    }

    func stringArray(_ v: any TOMLValueConvertible, _ path: [String]) -> [String] {
        guard let array = v.array else { wrongType(path, expected: "an array of strings", got: v); return [] }
        var out: [String] = []
        for (i, element) in array.enumerated() {
            guard let s = element.string, !s.isEmpty else {
                report(path, "[\(i)]: expected a non-empty string, got \(element.string == nil ? Self.typeName(element) : "an empty string")")
                continue
            }
            out.append(s)
        }
        return out
    }
}
