-- loops: crash loops. A program (or pool) is in a loop when at least :min_crashes crashes fall inside
-- one sliding window of :window_ms anywhere in the range. Crashes are the rows of crashes.sql (exit
-- class 'crash' or 'limit', and spawn_failed events); a pool's workers count together.
-- An end an operator caused (operator_effects 'ended', migrations/0004_operator_actions.sql: a stop,
-- restart, or a signal sent through histd) is not a crash here; a process killed by hand still is.
-- Parameters:
--   :since, :until   time range, ms since epoch UTC
--   :window_ms       sliding window length, ms
--   :min_crashes     crashes needed inside one window
--   :programs        JSON array of program names to keep; '[]' keeps all
-- Columns:
--   program              program or pool name
--   crashes              crashes that belong to a qualifying window
--   first                the first of those (ms UTC)
--   last                 the last of those (ms UTC)
--   longest_uptime_s     the longest any of those processes ran, seconds
--   max_restart_delay_s  the longest backoff scheduled between first and 5 s after last
--   gave_up              1 when histd gave up on it between first and :until
--   state                last known state (the program_states view)
--   workers              for a pool: the worker indexes whose crashes are in the loop (e.g. "0,2"); NULL for a program
-- Plan: programs in id order, then per program one instances_crashes range (index-only, already in
-- time order) plus an events_kind_ts range on (kind = 9, ts) for spawn failures, fed to histctl_crash_loop(), an aggregate that HistReports registers on its connection
-- (Sources/HistReports/CrashLoopAggregate.swift): one linear pass per program instead of window
-- functions. Then one events_kind_ts range on (kind = 4, ts) over the loops' overall span, index-only
-- (value is in the index), for the restart delays of all loops at once (histctl_span_max); gave_up by
-- a (kind = 5, ts) range per loop; program_states for the loops' programs only.
WITH
per AS MATERIALIZED (
    SELECT crash_rows.program_id AS program_id, crash_rows.program AS program,
           histctl_crash_loop(crash_rows.ended_at, crash_rows.worker_index, crash_rows.uptime_ms, :window_ms, :min_crashes) AS loop
    FROM (
        SELECT p.id AS program_id, p.name AS program, i.ended_at AS ended_at, i.worker_index AS worker_index,
               i.uptime_ms AS uptime_ms
        FROM programs p NOT INDEXED
        CROSS JOIN instances i INDEXED BY instances_crashes ON i.program_id = p.id
        WHERE i.class IN ('crash', 'limit') AND i.ended_at >= :since AND i.ended_at < :until
          AND NOT EXISTS (SELECT 1 FROM operator_effects f WHERE f.instance_id = i.id AND f.effect = 'ended')
          AND (json_array_length(:programs) = 0 OR p.name IN (SELECT value FROM json_each(:programs)))
        UNION ALL
        -- Starts that failed before exec (spawn_failed events) loop too; they never ran (no uptime).
        SELECT p.id, p.name, e.ts, json_extract(e.detail, '$.worker_index'), NULL
        FROM events e INDEXED BY events_kind_ts
        JOIN programs p ON p.id = e.program_id
        WHERE e.kind = 9 /* spawn_failed */ AND e.ts >= :since AND e.ts < :until
          AND (json_array_length(:programs) = 0 OR p.name IN (SELECT value FROM json_each(:programs)))
    ) crash_rows
    GROUP BY crash_rows.program_id
),
loops AS MATERIALIZED (
    SELECT program_id, program, json_extract(loop, '$.crashes') AS crashes, json_extract(loop, '$.first') AS first,
           json_extract(loop, '$.last') AS last, json_extract(loop, '$.longest_uptime_ms') AS longest_uptime_ms,
           json_extract(loop, '$.workers') AS workers
    FROM per WHERE loop IS NOT NULL
),
-- Every restart_scheduled in the loops' overall span, read once from the index (value is in it), and
-- kept when it falls in its own program's loop (histctl_span_max, SpanMaxAggregate.swift).
delays AS MATERIALIZED (
    SELECT json_extract(d.value, '$[0]') AS program_id, json_extract(d.value, '$[1]') AS max_delay_ms
    FROM (
        -- The spans travel in one leading row only: a text argument is copied on every call.
        SELECT histctl_span_max(x.spans, x.program_id, x.ts, x.value) AS maxima
        FROM (
            SELECT json_group_array(json_array(program_id, first, last + 5000)) AS spans,
                   NULL AS program_id, NULL AS ts, NULL AS value
            FROM loops
            UNION ALL
            SELECT NULL, r.program_id, r.ts, r.value
            FROM events r
            WHERE r.kind = 4 /* restart_scheduled */
              AND r.ts >= (SELECT MIN(first) FROM loops) AND r.ts <= (SELECT MAX(last) FROM loops) + 5000
        ) x
    ) m, json_each(m.maxima) d
)
SELECT
    l.program AS program,
    l.crashes AS crashes,
    l.first AS first,
    l.last AS last,
    round(l.longest_uptime_ms / 1000.0, 3) AS longest_uptime_s,
    d.max_delay_ms / 1000.0 AS max_restart_delay_s,
    EXISTS (SELECT 1 FROM events g WHERE g.kind = 5 /* gave_up */ AND g.ts >= l.first AND g.ts < :until
              AND g.program_id = l.program_id) AS gave_up,
    -- Last known state: the program_states view (migrations/0002_views.sql), for this program only.
    (SELECT s.state FROM program_states s WHERE s.program_id = l.program_id) AS state,
    l.workers AS workers
FROM loops l
LEFT JOIN delays d ON d.program_id = l.program_id
ORDER BY l.crashes DESC, l.program;
