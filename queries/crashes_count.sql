-- crashes_count: how many rows crashes.sql would return without :limit (a table's "N more" footer).
-- Parameters:
--   :since, :until  time range, ms since epoch UTC, on the end time
--   :programs       JSON array of program names, or pool workers as POOL.INDEX, to keep; '[]' keeps all
-- Columns:
--   crashes  the number of crashes and limit kills in the range
-- Plan: per program, an index-only instances_crashes range count (no table row is read).
SELECT COUNT(*) AS crashes
FROM programs p NOT INDEXED
CROSS JOIN instances i INDEXED BY instances_crashes ON i.program_id = p.id
WHERE i.class IN ('crash', 'limit') AND i.ended_at >= :since AND i.ended_at < :until
  AND (json_array_length(:programs) = 0 OR p.name IN (SELECT value FROM json_each(:programs))
       OR p.name || '.' || i.worker_index IN (SELECT value FROM json_each(:programs)));
