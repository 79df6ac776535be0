import GRDB
import HistStore

/// What histctl does with a database that an older histd wrote and no histd has migrated since (a copy
/// taken off a broken machine, or a box where the new histd has not started yet): histctl is read-only
/// and never migrates, so the tables the reports read that such a database lacks get stand-ins on this
/// connection only (TEMP views, gone when it closes), and the reports give the same answers from raw
/// rows, more slowly. An on-call engineer gets the answer now, plus one note saying why it is slow and
/// how to upgrade the file (start histd on it once; it migrates on start).
struct SchemaStandIns {
    /// One table a migration added that some report reads, and an exact stand-in from older rows.
    struct StandIn {
        var table: String
        var migration: String
        var sql: String
    }

    static let all: [StandIn] = [
        // Before 0004 no operator action was recorded: no end was caused by one.
        StandIn(table: "operator_effects", migration: "0004_operator_actions.sql", sql: """
            CREATE TEMP VIEW operator_effects AS
            SELECT NULL AS instance_id, NULL AS effect, NULL AS run_id, NULL AS action_seq WHERE 0
            """),
        // Before 0010 no storage outage was recorded (the postmortem's gaps read the lost files from it).
        StandIn(table: "storage_outages", migration: "0010_storage_faults.sql", sql: """
            CREATE TEMP VIEW storage_outages AS
            SELECT NULL AS event_id, NULL AS ts, NULL AS from_ms, NULL AS to_ms, NULL AS duration_ms, NULL AS states,
                   NULL AS held, NULL AS dropped, NULL AS error, NULL AS lost_inode, NULL AS lost_written, NULL AS run_id
            WHERE 0
            """),
        StandIn(table: "crash_hours", migration: "0007_rollups.sql", sql: """
            CREATE TEMP VIEW crash_hours AS
            SELECT i.ended_at - i.ended_at % 3600000 AS hour, i.program_id AS program_id,
                   coalesce(i.worker_index, -1) AS worker, i.class AS class, coalesce(i.exit_code, -1) AS exit_code,
                   coalesce(i.signal, 0) AS signal, COUNT(*) AS crashes, MIN(i.ended_at) AS first_ms, MAX(i.ended_at) AS last_ms
            FROM instances i
            WHERE i.class IN ('crash', 'limit') AND i.ended_at IS NOT NULL
              AND NOT EXISTS (SELECT 1 FROM operator_effects f WHERE f.instance_id = i.id AND f.effect = 'ended')
            GROUP BY 1, 2, 3, 4, 5, 6
            """),
        // Empty: Reports.loops then reads every crash raw (`hasLoopRollup` is false).
        StandIn(table: "loop_hours", migration: "0011_loop_rollups.sql", sql: """
            CREATE TEMP VIEW loop_hours AS
            SELECT NULL AS hour, NULL AS program_id, NULL AS worker, NULL AS members, NULL AS first_ms,
                   NULL AS last_ms, NULL AS longest_uptime_ms WHERE 0
            """),
        StandIn(table: "program_hours", migration: "0011_loop_rollups.sql", sql: """
            CREATE TEMP VIEW program_hours AS
            SELECT e.program_id AS program_id, e.ts - e.ts % 3600000 AS hour, SUM(e.kind = 1) AS starts,
                   SUM(e.kind = 4) AS restarts, SUM(e.kind = 5) AS gave_ups,
                   MAX(CASE WHEN e.kind = 4 THEN e.value END) AS max_restart_delay_ms
            FROM events e
            WHERE e.kind IN (1, 4, 5) AND e.program_id IS NOT NULL
            GROUP BY 1, 2
            """),
        // The day rollups as their definition over the hour rollups (exact, and empty where loop_hours is
        // a stand-in); Reports.loops then reads no day rows (`hasDayRollups` is false).
        StandIn(table: "loop_days", migration: "0015_day_rollups.sql", sql: """
            CREATE TEMP VIEW loop_days AS
            SELECT h.hour - h.hour % 86400000 AS day, h.program_id AS program_id, h.worker AS worker,
                   SUM(h.members) AS members, MIN(h.first_ms) AS first_ms, MAX(h.last_ms) AS last_ms,
                   MAX(h.longest_uptime_ms) AS longest_uptime_ms
            FROM loop_hours h
            GROUP BY 1, 2, 3
            """),
        StandIn(table: "program_days", migration: "0015_day_rollups.sql", sql: """
            CREATE TEMP VIEW program_days AS
            SELECT h.program_id AS program_id, h.hour - h.hour % 86400000 AS day,
                   MAX(h.max_restart_delay_ms) AS max_restart_delay_ms
            FROM program_hours h
            WHERE h.max_restart_delay_ms IS NOT NULL
            GROUP BY 1, 2
            """),
        // Empty: Reports.status then counts every restart of its hour raw (`hasRestartRollup` is false).
        StandIn(table: "restart_minutes", migration: "0014_restart_minutes.sql", sql: """
            CREATE TEMP VIEW restart_minutes AS
            SELECT NULL AS program_id, NULL AS minute, NULL AS restarts, NULL AS reach_ms WHERE 0
            """),
        // Not program_current_source (0016's definition, which scans each lifecycle kind back to the
        // program's newest event of it: 0.3 s per program that never restarted, on the 30-day fixture), but
        // the lookups status made before 0016, which give what queries/status.sql reads of each column:
        // mark_* only where mark_ts >= the newest instance's ended_at (the newest such event after its end,
        // bounded below by it), fail_* only for a program with no instance, inst_stop only while the
        // newest instance is open. ProgramCurrentEquivalenceTests checks that both give the same status.
        StandIn(table: "program_current", migration: "0016_program_current.sql", sql: """
            CREATE TEMP VIEW program_current AS
            SELECT p.id AS program_id, ni.id AS inst_id, ni.started_at AS inst_started_at,
                   CASE WHEN ni.id IS NOT NULL AND ni.ended_at IS NULL THEN EXISTS (
                       SELECT 1 FROM events e WHERE e.kind = 6 AND e.ts >= ni.started_at AND e.program_id = p.id
                         AND e.instance_id = ni.id) ELSE 0 END AS inst_stop,
                   (SELECT i.id FROM instances i WHERE i.program_id = p.id AND i.ended_at IS NOT NULL
                     ORDER BY i.started_at DESC, i.id DESC LIMIT 1) AS ended_id,
                   m.ts AS mark_ts, m.id AS mark_id, m.kind AS mark_kind,
                   f.kind AS fail_kind
            FROM programs p
            LEFT JOIN instances ni ON ni.id = (
                SELECT i.id FROM instances i WHERE i.program_id = p.id ORDER BY i.started_at DESC, i.id DESC LIMIT 1)
            LEFT JOIN events m ON ni.ended_at IS NOT NULL AND m.id = (
                SELECT e.id FROM events e WHERE e.kind IN (4, 5, 9) AND e.ts >= ni.ended_at AND e.program_id = p.id
                ORDER BY e.ts DESC, e.id DESC LIMIT 1)
            LEFT JOIN events f ON ni.id IS NULL AND f.id = (
                SELECT e.id FROM events e WHERE e.kind IN (5, 9) AND e.program_id = p.id ORDER BY e.ts DESC, e.id DESC LIMIT 1)
            """),
    ]

    /// One column a migration added that some report reads as `reference`, and the raw expression that
    /// computes the same value where the column is missing (the reports' SQL gets it in its place).
    struct ColumnStandIn {
        var table: String
        var column: String
        var migration: String
        var reference: String
        var raw: String
    }

    static let columns: [ColumnStandIn] = [
        // The column's rule from the events (queries/crashes.sql reads `i`), as HistStore's
        // RestartDelay.rawValueSQL: the first ts with a match in events_kind_ts order, then the lowest id at
        // that ts. One range with ORDER BY ts, id read every restart_scheduled of all programs within the
        // 60 s per crash (about 85 table rows each on the 30-day fixture: 6.8 s for a day's listing, against
        // 0.8 s for the listing before 0013, whose ORDER BY ts alone stopped at the first match).
        ColumnStandIn(table: "instances", column: "restart_delay_ms", migration: "0013_restart_delay.sql",
                      reference: "i.restart_delay_ms", raw: """
            (SELECT r.value FROM events r
              WHERE r.kind = 4 AND r.instance_id = i.id AND r.ts = (
                  SELECT q.ts FROM events q
                  WHERE q.kind = 4 AND q.ts >= i.ended_at AND q.ts <= i.ended_at + 60000 AND q.instance_id = i.id
                  ORDER BY q.ts LIMIT 1)
              ORDER BY r.id LIMIT 1)
            """),
    ]

    /// The tables that were missing (and now have stand-ins).
    private(set) var missing: [StandIn] = []
    /// The columns that were missing (their references are replaced in every report query).
    private(set) var missingColumns: [ColumnStandIn] = []

    /// `sql` with every reference to a missing column replaced by its raw expression.
    func adapt(_ sql: String) -> String {
        missingColumns.reduce(sql) { $0.replacingOccurrences(of: $1.reference, with: $1.raw) }
    }

    /// Creates the stand-ins this database needs, before the connection is made query-only. A database
    /// with no history tables at all is left alone (the open checks refuse it first).
    static func install(_ db: Database) throws -> SchemaStandIns {
        let tables = Set(try String.fetchAll(db, sql: "SELECT name FROM main.sqlite_master WHERE type IN ('table', 'view')"))
        var out = SchemaStandIns()
        guard tables.contains("events") else { return out }
        for s in all where !tables.contains(s.table) {
            try db.execute(sql: s.sql)
            out.missing.append(s)
        }
        for c in columns {
            let have = try String.fetchAll(db, sql: "SELECT name FROM pragma_table_info(?)", arguments: [c.table])
            if !have.contains(c.column) { out.missingColumns.append(c) }
        }
        return out
    }

    /// The note histctl prints once on stderr, nil when nothing was missing.
    func note(path: String) -> String? {
        // The oldest missing migration of both kinds (file names sort by their number).
        guard let oldest = (missing.map(\.migration) + missingColumns.map(\.migration)).min() else { return nil }
        let tables = (missing.map(\.table) + missingColumns.map { "\($0.table).\($0.column)" }).joined(separator: ", ")
        return """
            note: \(path) was written by an older histd and not migrated since (it lacks \(oldest) and later); \
            reports compute \(tables) from raw rows, which is slower on a big history. Start histd on it once to \
            upgrade it (histd migrates on start; histctl never writes)
            """
    }
}
