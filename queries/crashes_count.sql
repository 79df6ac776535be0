-- crashes_count: how many rows crashes.sql would return without :limit (a table's "N more" footer).
-- Parameters:
--   :since, :until              time range, ms since epoch UTC, on the end time
--   :whole_from, :whole_until   the whole UTC hours inside the range (see crashes_summary.sql)
--   :programs                   JSON array of program names, or pool workers as POOL.INDEX, to keep; '[]' keeps all
-- Columns:
--   crashes  the number of crashes and limit kills in the range
-- Plan: whole hours from the crash_hours rollup (primary-key range on hour), the partial hours at the
-- edges by index-only instances_crashes ranges per program (no table row is read).
SELECT
    (SELECT COALESCE(SUM(c.crashes), 0)
     FROM crash_hours c JOIN programs p ON p.id = c.program_id
     WHERE c.hour >= :whole_from AND c.hour < :whole_until
       AND (json_array_length(:programs) = 0 OR p.name IN (SELECT value FROM json_each(:programs))
            OR (c.worker >= 0 AND p.name || '.' || c.worker IN (SELECT value FROM json_each(:programs)))))
  + (SELECT COUNT(*)
     FROM programs p NOT INDEXED
     CROSS JOIN instances i INDEXED BY instances_crashes ON i.program_id = p.id
     WHERE i.class IN ('crash', 'limit') AND i.ended_at >= :since AND i.ended_at < :whole_from
       AND (json_array_length(:programs) = 0 OR p.name IN (SELECT value FROM json_each(:programs))
            OR p.name || '.' || i.worker_index IN (SELECT value FROM json_each(:programs))))
  + (SELECT COUNT(*)
     FROM programs p NOT INDEXED
     CROSS JOIN instances i INDEXED BY instances_crashes ON i.program_id = p.id
     WHERE i.class IN ('crash', 'limit') AND i.ended_at >= :whole_until AND i.ended_at < :until
       AND (json_array_length(:programs) = 0 OR p.name IN (SELECT value FROM json_each(:programs))
            OR p.name || '.' || i.worker_index IN (SELECT value FROM json_each(:programs)))) AS crashes;
