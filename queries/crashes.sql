-- crashes: every crash in the range, one row per ended process, oldest first: the rows of the crashes
-- view (migrations/0002_views.sql), read the fast way.
-- A crash is an instance whose exit class is 'crash' (non-zero exit or a signal histd did not send)
-- or 'limit' (histd stopped it for a limit; reason 'limit'). Each row is one instance, identified by
-- (pid, start_ticks): a pid reused by two processes gives two rows, never one.
-- An end an operator caused (operator_effects 'ended', migrations/0004_operator_actions.sql: a stop,
-- restart, or a signal sent through histd) is not a crash here; a process killed by hand still is.
-- Parameters:
--   :since, :until  time range, ms since epoch UTC (since inclusive, until exclusive), on the end time
--   :programs       JSON array of program names, or pool workers as POOL.INDEX, to keep; '[]' keeps all
--   :limit          keep only the newest :limit crashes (still returned oldest first); -1 keeps all
-- Columns:
--   time             when the process ended (ms UTC)
--   program          program or pool name
--   pid              process id
--   exit_code        exit code, NULL when killed by a signal
--   signal           signal number (shown by name), NULL when it exited
--   core_dumped      0/1
--   uptime_s         how long it ran, seconds
--   restart_delay_s  the backoff of the restart_scheduled event histd wrote for this instance (within
--                    60 s of its end): instances.restart_delay_ms (migrations/0013_restart_delay.sql),
--                    NULL when histd gave up or did not restart it
--   reason           'crash', 'limit', or 'spawn_failed' (a start that failed before exec: a spawn_failed event)
--   stderr_tail      the last lines of stderr, NULL when it printed nothing; for spawn_failed, the step
--                    that failed and its errno ("setuid failed: Operation not permitted (errno 1)")
--   source, seq      not shown: the order, time then source (0 crash, 1 spawn failure) then seq (the
--                    instance or event id). The rows come unordered (Reports.crashes sorts them: one sort of
--                    67 k rows with their stderr tails in SQLite cost more than the rest of the listing).
-- Plan: with :limit >= 0 (a table shows 50 of perhaps 67,000) the newest :limit crashes are picked first,
-- index-only: per program, an instances_crashes range on ended_at (the partial index holds only crashes
-- and limit kills), and an events_kind_ts range on (kind = 9, ts) for spawn failures; then the rows of
-- those only, by primary key. With :limit < 0 (every row: JSON, CSV, --all) nothing is picked or sorted:
-- the same ranges, each instance row by primary key. The restart delay is a column of the row
-- (migrations/0013_restart_delay.sql); for the few spawn failures an events_kind_ts range on (kind = 4, ts).
WITH crash_keys AS NOT MATERIALIZED (
    SELECT i.id AS id, i.ended_at AS ts
    FROM programs p NOT INDEXED
    CROSS JOIN instances i INDEXED BY instances_crashes ON i.program_id = p.id
    WHERE i.class IN ('crash', 'limit') AND i.ended_at >= :since AND i.ended_at < :until
      AND NOT EXISTS (SELECT 1 FROM operator_effects f WHERE f.instance_id = i.id AND f.effect = 'ended')
      AND (json_array_length(:programs) = 0 OR p.name IN (SELECT value FROM json_each(:programs))
           OR p.name || '.' || i.worker_index IN (SELECT value FROM json_each(:programs)))
),
failed_keys AS NOT MATERIALIZED (
    SELECT e.id AS id, e.ts AS ts
    FROM events e INDEXED BY events_kind_ts
    JOIN programs p ON p.id = e.program_id
    WHERE e.kind = 9 /* spawn_failed */ AND e.ts >= :since AND e.ts < :until
      AND (json_array_length(:programs) = 0 OR p.name IN (SELECT value FROM json_each(:programs))
           OR p.name || '.' || json_extract(e.detail, '$.worker_index') IN (SELECT value FROM json_each(:programs)))
),
-- The newest :limit of both kinds (only with :limit >= 0).
newest AS MATERIALIZED (
    SELECT id, ts, source FROM (
        SELECT id, ts, 0 AS source FROM (SELECT id, ts FROM crash_keys ORDER BY ts DESC, id DESC LIMIT :limit)
        UNION ALL
        SELECT id, ts, 1 AS source FROM (SELECT id, ts FROM failed_keys ORDER BY ts DESC, id DESC LIMIT :limit)
    ) WHERE :limit >= 0 ORDER BY ts DESC, source DESC, id DESC LIMIT :limit
),
-- The rows: the newest by primary key, or (:limit < 0) every one straight from its index range, unsorted
-- (a UNION of both as one CTE would be materialized first: 67 k rows written to a temporary table).
all_crashes AS NOT MATERIALIZED (
    SELECT id FROM crash_keys WHERE :limit < 0
    UNION ALL
    SELECT id FROM newest WHERE :limit >= 0 AND source = 0
)
SELECT i.ended_at AS time, p.name AS program, i.pid AS pid, i.exit_code AS exit_code, i.signal AS signal,
       i.core_dumped AS core_dumped, i.uptime_ms / 1000.0 AS uptime_s, i.restart_delay_ms / 1000.0 AS restart_delay_s,
       i.class AS reason, i.stderr_tail AS stderr_tail, 0 AS source, i.id AS seq
FROM all_crashes k
JOIN instances i ON i.id = k.id
JOIN programs p ON p.id = i.program_id
UNION ALL
-- A start that failed before the program ran (exec, setuid, chdir, setrlimit ... in the child): no
-- process, so no pid, exit or uptime; the failed step and errno text stand in for the stderr tail.
SELECT e.ts, p.name, NULL, NULL, NULL, 0, NULL,
       (SELECT r.value FROM events r
         WHERE r.kind = 4 AND r.ts >= e.ts AND r.ts <= e.ts + 60000 AND r.program_id = e.program_id AND r.id > e.id
         ORDER BY r.ts LIMIT 1) / 1000.0,
       'spawn_failed',
       json_extract(e.detail, '$.step') || ' failed: ' || json_extract(e.detail, '$.reason') || ' (errno ' || e.value || ')',
       1, e.id
FROM (SELECT id FROM failed_keys WHERE :limit < 0 UNION ALL SELECT id FROM newest WHERE :limit >= 0 AND source = 1) k
JOIN events e ON e.id = k.id
JOIN programs p ON p.id = e.program_id;
