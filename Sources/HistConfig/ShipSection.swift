import HistModel
import TOMLKit

/// `[ship]`: shipping this host's history to PostgreSQL (docs/FLEET.md).
extension ConfigValidator {
    static let shipKeys = ["url", "password_file", "host_id", "ship_max_backlog", "ship_snapshots"]
    /// `ship_max_backlog` between these: less than a megabyte is not a backlog, more than a terabyte is a mistake.
    static let shipBacklogRange: ClosedRange<Int64> = (1 << 20)...(1 << 40)

    func ship(_ value: (any TOMLValueConvertible)?, path: [String]) -> ShipSpec? {
        guard let value else { return nil }
        guard let table = value.table else {
            wrongType(path, expected: "a table [ship]", got: value)
            return nil
        }
        checkKnownKeys(table, path: path, known: Self.shipKeys)
        guard let v = table["url"] else {
            report(path, "[ship] needs url = \"postgres://user@host:5432/db\"")
            return nil
        }
        guard let url = string(v, path + ["url"]) else { return nil }
        if let problem = ShipSpec.urlProblem(url) {
            report(path + ["url"], problem)
            return nil
        }
        var spec = ShipSpec(url: url)
        if let v = table["password_file"], let p = self.path(v, path + ["password_file"]) {
            switch FileSystem.kind(p) {
            case .file: spec.passwordFile = p
            case .missing: report(path + ["password_file"], "\(p) does not exist")
            default: report(path + ["password_file"], "\(p) is not a file")
            }
        }
        if let v = table["host_id"], let name = string(v, path + ["host_id"]) {
            if let problem = ShipSpec.hostIDProblem(name) { report(path + ["host_id"], problem) } else { spec.hostID = name }
        }
        if let v = table["ship_max_backlog"], let b = size(v, path + ["ship_max_backlog"], in: Self.shipBacklogRange) {
            spec.maxBacklog = b
        }
        if let v = table["ship_snapshots"], let d = durationOrOff(v, path + ["ship_snapshots"], atLeast: .seconds(1)) {
            spec.snapshots = d
        }
        return spec
    }
}
