-- crashes_summary: crashes in the range grouped by program (`histctl crashes --summary`).
-- Same rows as crashes.sql (crash events, plus exits ended for a limit).
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
-- Plan: events_kind_ts range; instances and programs by primary key.
WITH c AS MATERIALIZED (
    SELECT e.ts, e.program_id, i.exit_code, i.signal, i.class
    FROM events e
    LEFT JOIN instances i ON i.id = e.instance_id
    LEFT JOIN programs p ON p.id = e.program_id
    WHERE e.kind IN (2, 3) AND e.ts >= :since AND e.ts < :until
      AND (e.kind = 3 OR i.class = 'limit')
      AND (json_array_length(:programs) = 0 OR p.name IN (SELECT value FROM json_each(:programs)))
),
codes AS (
    SELECT program_id, group_concat(exit_code, ',') AS exit_codes
    FROM (SELECT DISTINCT program_id, exit_code FROM c WHERE exit_code IS NOT NULL ORDER BY program_id, exit_code)
    GROUP BY program_id
),
sigs AS (
    SELECT program_id, group_concat(signal, ',') AS signals
    FROM (SELECT DISTINCT program_id, signal FROM c WHERE signal IS NOT NULL ORDER BY program_id, signal)
    GROUP BY program_id
),
g AS (
    SELECT program_id, COUNT(*) AS crashes, SUM(class IS 'limit') AS limit_kills, MIN(ts) AS first, MAX(ts) AS last
    FROM c GROUP BY program_id
)
SELECT p.name AS program, g.crashes, g.limit_kills, g.first, g.last, codes.exit_codes, sigs.signals
FROM g
LEFT JOIN programs p ON p.id = g.program_id
LEFT JOIN codes ON codes.program_id = g.program_id
LEFT JOIN sigs ON sigs.program_id = g.program_id
ORDER BY g.crashes DESC, p.name;
