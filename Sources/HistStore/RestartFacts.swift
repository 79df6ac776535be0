import GRDB
import HistModel

extension HistoryStore {
    /// The last `start`, `restart_scheduled` or `gave_up` of each named plain program (not pools:
    /// a worker slot starts fresh), for `[supervisor] restore_state`. Call before the writer runs.
    /// A program with none of them is absent. Unreadable database: empty (start fresh).
    ///
    /// Indexed: the program's newest hour with such an event comes from `program_hours` (one primary-key
    /// seek, migrations/0011_loop_rollups.sql), and only that hour's events are read (a range per kind of
    /// events_kind_ts), newest first. Walking the events newest-first per program read the whole table
    /// for a program that never started.
    public func lastRestartFacts(programs: [String]) -> [String: RestoredState.LastFact] {
        (try? dbQueue.inDatabase { db in try Self.lastRestartFacts(db, programs: programs) }) ?? [:]
    }

    /// `lastRestartFacts` on any connection (a read-only one too: `readEarlierRuns`).
    static func lastRestartFacts(_ db: Database, programs: [String]) throws -> [String: RestoredState.LastFact] {
        var out: [String: RestoredState.LastFact] = [:]
        for name in programs {
            guard let row = try Row.fetchOne(db.cachedStatement(sql: Self.lastFactSQL), arguments: [name]) else { continue }
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
        return out
    }

    /// What a start needs from earlier runs when its writer could not open the file yet (`openOrDefer`
    /// deferred it: typically another process holds the write lock through the migrations), read on a
    /// read-only connection, which a write lock does not block (WAL): the open instances of runs that
    /// never closed (`leftovers(bootID:)`) and, when `restoreState`, the programs' last restart facts.
    /// Throws when the file cannot be read either (missing, unreadable, or a schema this query does not
    /// know yet).
    public static func readEarlierRuns(path: String, programs: [String], bootID: String?, restoreState: Bool) throws
        -> (leftovers: [OpenInstance], facts: [String: RestoredState.LastFact]) {
        let reader = try HistoryDatabase.openReadOnly(path: path, allowNewerSchema: false)
        defer { try? reader.close() }
        return try reader.inDatabase { db in
            (try RunRequest.leftovers(db, bootID: bootID), restoreState ? try lastRestartFacts(db, programs: programs) : [:])
        }
    }

    /// The newest start/restart_scheduled/gave_up of a plain program (?1 = its name), by event id within
    /// the newest hour that has one.
    static let lastFactSQL = """
        WITH p AS (SELECT id FROM programs WHERE name = ?1 AND kind = 'program'),
        h AS (SELECT max(hour) AS hour FROM program_hours WHERE program_id = (SELECT id FROM p))
        SELECT e.kind, e.ts, e.value, e.detail FROM events e INDEXED BY events_kind_ts
        WHERE e.kind IN (1, 4, 5) AND e.ts >= (SELECT hour FROM h) AND e.ts < (SELECT hour FROM h) + 3600000
          AND e.program_id = (SELECT id FROM p)
        ORDER BY e.id DESC LIMIT 1
        """

    /// `"key":N` in a detail object written by the writer.
    static func intField(_ key: String, in json: String) -> Int? {
        guard let r = json.range(of: "\"\(key)\":") else { return nil }
        return Int(json[r.upperBound...].prefix { $0.isNumber || $0 == "-" })
    }
}
