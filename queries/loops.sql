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
-- Plan: when the window and crash count are the defaults (10 min, 3) and the range is long, the hours
-- that lie at least one window inside it, [:loop_from, :loop_until), come from the loop_hours rollup
-- (migrations/0011_loop_rollups.sql: exact, the crashes in loops by the same definition over the whole
-- history; inside the range minus one window on each side that is the same as within the range, since a
-- crash's membership depends only on the crashes within one window of it). The edges come from raw rows:
-- per program an instances_crashes range (index-only, in time order) plus an events_kind_ts range on
-- (kind = 9, ts) for spawn failures, each edge with one window of context, fed to histctl_crash_loop(),
-- an aggregate that HistReports registers on its connection (Sources/HistReports/CrashLoopAggregate.swift);
-- context rows decide membership but are not counted. Otherwise :loop_from = :loop_until = :until and
-- every crash in the range is read raw. The restart delays: the whole hours of each loop's span from
-- program_hours (a primary-key range per loop), the partial hours at the spans' ends from one
-- events_kind_ts range on (kind = 4, ts) per distinct hour (value is in the index), kept per program's
-- span by histctl_span_max; gave_up by a (kind = 5, ts) range per loop; program_states for the loops'
-- programs only.
-- Extra parameters (Reports.loops):
--   :loop_from, :loop_until  the whole hours read from loop_hours (equal to :until when none)
WITH
raw AS MATERIALIZED (
    SELECT crash_rows.program_id AS program_id,
           histctl_crash_loop(crash_rows.ended_at, crash_rows.worker_index, crash_rows.uptime_ms, :window_ms, :min_crashes,
                              crash_rows.ended_at < :loop_from OR crash_rows.ended_at >= :loop_until) AS loop
    FROM (
        SELECT p.id AS program_id, i.ended_at AS ended_at, i.worker_index AS worker_index, i.uptime_ms AS uptime_ms
        FROM programs p NOT INDEXED
        CROSS JOIN instances i INDEXED BY instances_crashes ON i.program_id = p.id
        WHERE i.class IN ('crash', 'limit') AND i.ended_at >= :since AND i.ended_at < :until
          AND (i.ended_at < :loop_from + :window_ms OR i.ended_at >= :loop_until - :window_ms)
          AND NOT EXISTS (SELECT 1 FROM operator_effects f WHERE f.instance_id = i.id AND f.effect = 'ended')
          AND (json_array_length(:programs) = 0 OR p.name IN (SELECT value FROM json_each(:programs)))
        UNION ALL
        -- Starts that failed before exec (spawn_failed events) loop too; they never ran (no uptime).
        SELECT p.id, e.ts, json_extract(e.detail, '$.worker_index'), NULL
        FROM events e INDEXED BY events_kind_ts
        JOIN programs p ON p.id = e.program_id
        WHERE e.kind = 9 /* spawn_failed */ AND e.ts >= :since AND e.ts < :until
          AND (e.ts < :loop_from + :window_ms OR e.ts >= :loop_until - :window_ms)
          AND (json_array_length(:programs) = 0 OR p.name IN (SELECT value FROM json_each(:programs)))
    ) crash_rows
    GROUP BY crash_rows.program_id
),
parts AS MATERIALIZED (
    SELECT program_id, json_extract(loop, '$.crashes') AS crashes, json_extract(loop, '$.first') AS first,
           json_extract(loop, '$.last') AS last, json_extract(loop, '$.longest_uptime_ms') AS longest_uptime_ms,
           '[' || coalesce(json_extract(loop, '$.workers'), '') || ']' AS workers
    FROM raw WHERE loop IS NOT NULL
    UNION ALL
    SELECT h.program_id, SUM(h.members), MIN(h.first_ms), MAX(h.last_ms), MAX(h.longest_uptime_ms),
           json_group_array(h.worker) FILTER (WHERE h.worker >= 0)
    FROM loop_hours h
    JOIN programs p ON p.id = h.program_id
    WHERE h.hour >= :loop_from AND h.hour < :loop_until
      AND (json_array_length(:programs) = 0 OR p.name IN (SELECT value FROM json_each(:programs)))
    GROUP BY h.program_id
),
loops AS MATERIALIZED (
    SELECT x.program_id AS program_id, p.name AS program, SUM(x.crashes) AS crashes, MIN(x.first) AS first,
           MAX(x.last) AS last, MAX(x.longest_uptime_ms) AS longest_uptime_ms,
           (SELECT group_concat(w, ',') FROM (
               SELECT DISTINCT j.value AS w FROM parts y, json_each(y.workers) j
               WHERE y.program_id = x.program_id ORDER BY 1)) AS workers
    FROM parts x
    JOIN programs p ON p.id = x.program_id
    GROUP BY x.program_id
),
-- The longest restart delay scheduled in each loop's span [first, last + 5 s]: the whole hours inside it
-- from program_hours, the partial hours at its ends from the events of those hours, all kept per
-- program's span by histctl_span_max (SpanMaxAggregate.swift).
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
            SELECT NULL, h.program_id, h.hour, h.max_restart_delay_ms
            FROM loops l
            JOIN program_hours h ON h.program_id = l.program_id
             AND h.hour >= l.first - l.first % 3600000 + 3600000
             AND h.hour < (l.last + 5000) - (l.last + 5000) % 3600000
            WHERE h.max_restart_delay_ms IS NOT NULL
            UNION ALL
            SELECT NULL, r.program_id, r.ts, r.value
            FROM (SELECT first - first % 3600000 AS hour FROM loops
                  UNION
                  SELECT (last + 5000) - (last + 5000) % 3600000 FROM loops) eh
            JOIN events r ON r.kind = 4 /* restart_scheduled */ AND r.ts >= eh.hour AND r.ts < eh.hour + 3600000
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
