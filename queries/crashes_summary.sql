-- crashes_summary: crashes in the range grouped by program (`histctl crashes --summary`).
-- Same rows as crashes.sql (the crashes view: exit class 'crash' or 'limit').
-- Parameters:
--   :since, :until  time range, ms since epoch UTC
--   :programs       JSON array of program names to keep; '[]' keeps all
-- Columns:
--   program     program or pool name
--   crashes     number of crashes
--   limit_kills how many of them were limit kills
--   first       first crash (ms UTC)
--   last        last crash (ms UTC)
--   exit_codes  distinct exit codes, comma-separated ascending, NULL if none
--   signals     distinct signal numbers (shown by name), comma-separated ascending, NULL if none
-- Plan: instances_ended range on ended_at; programs by primary key.
WITH crashed AS MATERIALIZED (
    SELECT i.ended_at AS ts, i.program_id, i.exit_code, i.signal, i.class
    FROM instances i
    WHERE i.ended_at >= :since AND i.ended_at < :until AND i.class IN ('crash', 'limit')
      AND (json_array_length(:programs) = 0
           OR i.program_id IN (SELECT p.id FROM programs p WHERE p.name IN (SELECT value FROM json_each(:programs))))
),
codes AS (
    SELECT program_id, group_concat(exit_code, ',') AS exit_codes
    FROM (SELECT DISTINCT program_id, exit_code FROM crashed WHERE exit_code IS NOT NULL ORDER BY program_id, exit_code)
    GROUP BY program_id
),
sigs AS (
    SELECT program_id, group_concat(signal, ',') AS signals
    FROM (SELECT DISTINCT program_id, signal FROM crashed WHERE signal IS NOT NULL ORDER BY program_id, signal)
    GROUP BY program_id
),
g AS (
    SELECT program_id, COUNT(*) AS crashes, SUM(class IS 'limit') AS limit_kills, MIN(ts) AS first, MAX(ts) AS last
    FROM crashed GROUP BY program_id
)
SELECT p.name AS program, g.crashes, g.limit_kills, g.first, g.last, codes.exit_codes, sigs.signals
FROM g
LEFT JOIN programs p ON p.id = g.program_id
LEFT JOIN codes ON codes.program_id = g.program_id
LEFT JOIN sigs ON sigs.program_id = g.program_id
ORDER BY g.crashes DESC, p.name;
