import GRDB

/// Checks `--program` names against the history before a report runs, so that a typo is an error instead
/// of an empty report (which `--fail-if-found` would read as "all is well").
///
/// A name is a program or pool (`programs.name`), or a pool worker by the name its log files and histd's
/// log lines use, `POOL.INDEX` (`jobs.0`, UnitKey.description in HistCore), when that worker slot has
/// ever had a process.
public enum ProgramFilter {
    /// What the names turned out to be.
    public struct Resolution: Hashable, Sendable {
        /// Worker names and the pool each belongs to (`"jobs.0": "jobs"`).
        public var workerPools: [String: String]
        /// Names that are neither a program nor a recorded worker slot.
        public var unknown: [String]
        /// Every program and pool name in the history (for "did you mean").
        public var known: [String]
    }

    /// Resolves `names` against the database. Program names win over worker names when both match.
    public static func resolve(_ db: ReportDatabase, _ names: [String]) throws(ReportError) -> Resolution {
        guard !names.isEmpty else { return Resolution(workerPools: [:], unknown: [], known: []) }
        return try db.read { db in
            let rows = try Row.fetchAll(db, sql: "SELECT id, name, kind FROM programs ORDER BY name")
            var byName: [String: (id: Int64, kind: String)] = [:]
            for row in rows { byName[row["name"]] = (row["id"], row["kind"]) }
            var workers: [String: String] = [:]
            var unknown: [String] = []
            for name in names where byName[name] == nil {
                if let dot = name.lastIndex(of: "."), let index = Int(name[name.index(after: dot)...]), index >= 0,
                   let pool = byName[String(name[..<dot])], pool.kind == "pool",
                   try Bool.fetchOne(db, sql: """
                       SELECT EXISTS (SELECT 1 FROM instances WHERE program_id = ? AND worker_index = ?)
                       """, arguments: [pool.id, index]) == true {
                    workers[name] = String(name[..<dot])
                } else {
                    unknown.append(name)
                }
            }
            return Resolution(workerPools: workers, unknown: unknown, known: rows.map { $0["name"] })
        }
    }
}
