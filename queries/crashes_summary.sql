-- crashes_summary: crashes in the range grouped by program (`histctl crashes --summary`).
-- Same rows as crashes.sql (the crashes view: exit class 'crash' or 'limit').
-- An end an operator caused (operator_effects 'ended', migrations/0004_operator_actions.sql: a stop,
-- restart, or a signal sent through histd) is not a crash here; a process killed by hand still is.
-- Parameters:
--   :since, :until              time range, ms since epoch UTC
--   :whole_from, :whole_until   the whole UTC hours inside the range (hour-aligned; equal when there is none,
--                               and then both are :until)
--   :programs                   JSON array of program names, or pool workers as POOL.INDEX, to keep; '[]' keeps all
-- Columns:
--   program     program or pool name
--   crashes     number of crashes
--   limit_kills how many of them were limit kills
--   first       first crash (ms UTC)
--   last        last crash (ms UTC)
--   exit_codes  distinct exit codes, comma-separated ascending, NULL if none
--   signals     distinct signal numbers (shown by name), comma-separated ascending, NULL if none
-- Plan: the whole hours from the crash_hours rollup (migrations/0007_rollups.sql: exact, one row per
-- hour, program, worker and outcome; a primary-key range on hour), the partial hours at both edges
-- from instances (per program, an index-only instances_crashes range on ended_at); then one group by
-- program over a few thousand rows. The distinct codes are collected per program as a JSON array and
-- sorted afterwards (a few values).
WITH
parts AS (
    SELECT c.program_id AS program_id, c.worker AS worker, c.class AS class, c.exit_code AS exit_code,
           c.signal AS signal, c.crashes AS n, c.first_ms AS first, c.last_ms AS last
    FROM crash_hours c
    WHERE c.hour >= :whole_from AND c.hour < :whole_until
    UNION ALL
    SELECT i.program_id, coalesce(i.worker_index, -1), i.class, coalesce(i.exit_code, -1), coalesce(i.signal, 0),
           1, i.ended_at, i.ended_at
    FROM programs p NOT INDEXED
    CROSS JOIN instances i INDEXED BY instances_crashes ON i.program_id = p.id
    WHERE i.class IN ('crash', 'limit') AND i.ended_at >= :since AND i.ended_at < :whole_from
      AND NOT EXISTS (SELECT 1 FROM operator_effects f WHERE f.instance_id = i.id AND f.effect = 'ended')
    UNION ALL
    SELECT i.program_id, coalesce(i.worker_index, -1), i.class, coalesce(i.exit_code, -1), coalesce(i.signal, 0),
           1, i.ended_at, i.ended_at
    FROM programs p NOT INDEXED
    CROSS JOIN instances i INDEXED BY instances_crashes ON i.program_id = p.id
    WHERE i.class IN ('crash', 'limit') AND i.ended_at >= :whole_until AND i.ended_at < :until
      AND NOT EXISTS (SELECT 1 FROM operator_effects f WHERE f.instance_id = i.id AND f.effect = 'ended')
),
g AS (
    SELECT p.name AS program, SUM(x.n) AS crashes, SUM(CASE WHEN x.class = 'limit' THEN x.n ELSE 0 END) AS limit_kills,
           MIN(x.first) AS first, MAX(x.last) AS last,
           json_group_array(DISTINCT x.exit_code) FILTER (WHERE x.exit_code >= 0) AS codes,
           json_group_array(DISTINCT x.signal) FILTER (WHERE x.signal <> 0) AS sigs
    FROM parts x
    JOIN programs p ON p.id = x.program_id
    WHERE json_array_length(:programs) = 0 OR p.name IN (SELECT value FROM json_each(:programs))
          OR (x.worker >= 0 AND p.name || '.' || x.worker IN (SELECT value FROM json_each(:programs)))
    GROUP BY p.id
)
SELECT program, crashes, limit_kills, first, last,
       (SELECT group_concat(value, ',') FROM (SELECT value FROM json_each(g.codes) ORDER BY value)) AS exit_codes,
       (SELECT group_concat(value, ',') FROM (SELECT value FROM json_each(g.sigs) ORDER BY value)) AS signals
FROM g
ORDER BY crashes DESC, program;
