-- crashes_count: how many rows crashes.sql would return without :limit (a table's "N more" footer).
-- Parameters:
--   :since, :until              time range, ms since epoch UTC, on the end time
--   :whole_from, :whole_until   the whole UTC hours inside the range (see crashes_summary.sql)
--   :programs                   JSON array of program names, or pool workers as POOL.INDEX, to keep; '[]' keeps all
-- Columns:
--   crashes  the number of crashes and limit kills in the range
-- Same filter as crashes.sql: operator-caused ends are not crashes (crash_hours leaves them out too), and
-- a start that failed before exec (spawn_failed) is one.
-- Plan: whole hours from the crash_hours rollup (primary-key range on hour), the partial hours at the
-- edges by instances_crashes ranges per program, and an events_kind_ts range for spawn failures.
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
       AND NOT EXISTS (SELECT 1 FROM operator_effects f WHERE f.instance_id = i.id AND f.effect = 'ended')
       AND (json_array_length(:programs) = 0 OR p.name IN (SELECT value FROM json_each(:programs))
            OR p.name || '.' || i.worker_index IN (SELECT value FROM json_each(:programs))))
  + (SELECT COUNT(*)
     FROM programs p NOT INDEXED
     CROSS JOIN instances i INDEXED BY instances_crashes ON i.program_id = p.id
     WHERE i.class IN ('crash', 'limit') AND i.ended_at >= :whole_until AND i.ended_at < :until
       AND NOT EXISTS (SELECT 1 FROM operator_effects f WHERE f.instance_id = i.id AND f.effect = 'ended')
       AND (json_array_length(:programs) = 0 OR p.name IN (SELECT value FROM json_each(:programs))
            OR p.name || '.' || i.worker_index IN (SELECT value FROM json_each(:programs))))
  + (SELECT COUNT(*)
     FROM events e INDEXED BY events_kind_ts
     JOIN programs p ON p.id = e.program_id
     WHERE e.kind = 9 /* spawn_failed */ AND e.ts >= :since AND e.ts < :until
       AND (json_array_length(:programs) = 0 OR p.name IN (SELECT value FROM json_each(:programs))
            OR p.name || '.' || json_extract(e.detail, '$.worker_index') IN (SELECT value FROM json_each(:programs)))) AS crashes;
