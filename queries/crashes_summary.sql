-- crashes_summary: crashes in the range grouped by program (`histctl crashes --summary`).
-- Same rows as crashes.sql (the crashes view: exit class 'crash' or 'limit').
-- An end an operator caused (operator_effects 'ended', migrations/0004_operator_actions.sql: a stop,
-- restart, or a signal sent through histd) is not a crash here; a process killed by hand still is.
-- Parameters:
--   :since, :until  time range, ms since epoch UTC
--   :programs       JSON array of program names, or pool workers as POOL.INDEX, to keep; '[]' keeps all
-- Columns:
--   program     program or pool name
--   crashes     number of crashes
--   limit_kills how many of them were limit kills
--   first       first crash (ms UTC)
--   last        last crash (ms UTC)
--   exit_codes  distinct exit codes, comma-separated ascending, NULL if none
--   signals     distinct signal numbers (shown by name), comma-separated ascending, NULL if none
-- Plan: programs in id order, then per program one instances_crashes range on ended_at: the partial
-- index covers every column read, so this is index-only and already grouped (no sort, no table row).
-- The distinct codes are collected per program as a JSON array and sorted afterwards (a few values).
WITH g AS (
    SELECT p.name AS program, COUNT(*) AS crashes, SUM(i.class = 'limit') AS limit_kills,
           MIN(i.ended_at) AS first, MAX(i.ended_at) AS last,
           json_group_array(DISTINCT i.exit_code) AS codes, json_group_array(DISTINCT i.signal) AS sigs
    FROM programs p NOT INDEXED
    CROSS JOIN instances i INDEXED BY instances_crashes ON i.program_id = p.id
    WHERE i.class IN ('crash', 'limit') AND i.ended_at >= :since AND i.ended_at < :until
      AND NOT EXISTS (SELECT 1 FROM operator_effects f WHERE f.instance_id = i.id AND f.effect = 'ended')
      AND (json_array_length(:programs) = 0 OR p.name IN (SELECT value FROM json_each(:programs))
           OR p.name || '.' || i.worker_index IN (SELECT value FROM json_each(:programs)))
    GROUP BY p.id
)
SELECT program, crashes, limit_kills, first, last,
       (SELECT group_concat(value, ',') FROM (SELECT value FROM json_each(g.codes) WHERE value IS NOT NULL ORDER BY value)) AS exit_codes,
       (SELECT group_concat(value, ',') FROM (SELECT value FROM json_each(g.sigs) WHERE value IS NOT NULL ORDER BY value)) AS signals
FROM g
ORDER BY crashes DESC, program;
