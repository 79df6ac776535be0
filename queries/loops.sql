-- loops: crash loops. A program (or pool) is in a loop when at least :min_crashes crashes fall inside
-- one sliding window of :window_ms anywhere in the range. Crashes are crash events plus exits ended
-- for a limit (as in crashes.sql); a pool's workers count together.
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
-- Plan: events_kind_ts ranges; window functions over the crashes only.
WITH
c AS (
    SELECT e.id, e.ts, e.program_id, i.worker_index, COALESCE(i.uptime_ms, CASE WHEN e.kind = 3 THEN e.value END) AS uptime_ms
    FROM events e
    LEFT JOIN instances i ON i.id = e.instance_id
    WHERE e.kind IN (2 /* exit */, 3 /* crash */) AND e.ts >= :since AND e.ts < :until
      AND (e.kind = 3 OR i.class = 'limit')
),
-- How many crashes fall in [ts, ts + window] for each crash: a window starting here qualifies when
-- that reaches :min_crashes.
fwd AS (
    SELECT c.*, COUNT(*) OVER (PARTITION BY program_id ORDER BY ts
                                RANGE BETWEEN CURRENT ROW AND :window_ms FOLLOWING) AS n
    FROM c
),
-- A crash is in a loop when some qualifying window started at most :window_ms before it.
member AS (
    SELECT fwd.*, MAX(CASE WHEN n >= :min_crashes THEN ts END)
               OVER (PARTITION BY program_id ORDER BY ts
                     RANGE BETWEEN :window_ms PRECEDING AND CURRENT ROW) AS loop_start
    FROM fwd
),
loops AS (
    SELECT program_id, COUNT(*) AS crashes, MIN(ts) AS first, MAX(ts) AS last, MAX(uptime_ms) AS longest_uptime_ms,
           group_concat(DISTINCT worker_index) AS workers
    FROM member WHERE loop_start IS NOT NULL
    GROUP BY program_id
),
-- Last known state: the program_states view (migrations/0002_views.sql).
state AS (SELECT * FROM program_states)
SELECT
    s.program AS program,
    l.crashes AS crashes,
    l.first AS first,
    l.last AS last,
    round(l.longest_uptime_ms / 1000.0, 3) AS longest_uptime_s,
    (SELECT MAX(r.value) / 1000.0 FROM events r
      WHERE r.kind = 4 AND r.ts >= l.first AND r.ts <= l.last + 5000 AND r.program_id = l.program_id) AS max_restart_delay_s,
    EXISTS (SELECT 1 FROM events g WHERE g.kind = 5 /* gave_up */ AND g.ts >= l.first AND g.ts < :until
              AND g.program_id = l.program_id) AS gave_up,
    s.state AS state,
    l.workers AS workers
FROM loops l
JOIN state s ON s.program_id = l.program_id
WHERE json_array_length(:programs) = 0 OR s.program IN (SELECT value FROM json_each(:programs))
ORDER BY l.crashes DESC, s.program;
