-- crashes_count: how many rows crashes.sql would return without :limit (a table's "N more" footer).
-- Parameters:
--   :since, :until  time range, ms since epoch UTC, on the end time
--   :programs       JSON array of program names, or pool workers as POOL.INDEX, to keep; '[]' keeps all
-- Columns:
--   crashes  the number of crashes and limit kills in the range
-- Same filter as crashes.sql (operator-caused ends are not crashes).
-- Plan: per program, an instances_crashes range count, plus an operator_effects probe per crash.
SELECT COUNT(*) AS crashes
FROM programs p NOT INDEXED
CROSS JOIN instances i INDEXED BY instances_crashes ON i.program_id = p.id
WHERE i.class IN ('crash', 'limit') AND i.ended_at >= :since AND i.ended_at < :until
  AND NOT EXISTS (SELECT 1 FROM operator_effects f WHERE f.instance_id = i.id AND f.effect = 'ended')
  AND (json_array_length(:programs) = 0 OR p.name IN (SELECT value FROM json_each(:programs))
       OR p.name || '.' || i.worker_index IN (SELECT value FROM json_each(:programs)));
