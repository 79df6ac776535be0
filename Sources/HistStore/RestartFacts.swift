import GRDB
import HistModel

extension HistoryStore {
    /// The last `start`, `restart_scheduled` or `gave_up` of each named plain program (not pools:
    /// a worker slot starts fresh), for `[supervisor] restore_state`. Call before the writer runs.
    /// A program with none of them is absent. Unreadable database: empty (start fresh).
    public func lastRestartFacts(programs: [String]) -> [String: RestoredState.LastFact] {
        var out: [String: RestoredState.LastFact] = [:]
        try? dbQueue.inDatabase { db in
            for name in programs {
                // Walks the newest events first; a program's last lifecycle fact is near the end.
                guard let row = try Row.fetchOne(db, sql: """
                    SELECT e.kind, e.ts, e.value, e.detail FROM events e
                    WHERE e.program_id = (SELECT id FROM programs WHERE name = ? AND kind = 'program') AND e.kind IN (1, 4, 5)
                    ORDER BY e.id DESC LIMIT 1
                    """, arguments: [name]) else { continue }
                let kind: Int64 = row[0]
                switch kind {
                case 4:
                    let detail: String = row[3] ?? ""
                    let attempt = Self.intField("attempt", in: detail) ?? 1
                    out[name] = .restartScheduled(at: Timestamp(milliseconds: row[1]), delay: .milliseconds(row[2] as Int64? ?? 0),
                                                  attempt: attempt)
                case 5: out[name] = .gaveUp(restarts: Int(row[2] as Int64? ?? 0))
                default: out[name] = .started
                }
            }
        }
        return out
    }

    /// `"key":N` in a detail object written by the writer.
    static func intField(_ key: String, in json: String) -> Int? {
        guard let r = json.range(of: "\"\(key)\":") else { return nil }
        return Int(json[r.upperBound...].prefix { $0.isNumber || $0 == "-" })
    }
}
