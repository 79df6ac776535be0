-- breaches: limit breaches in the range (`limit_breach` events, kind 8), through the limit_breaches view.
-- The event's value is the observed value; its detail is JSON {"limit", "threshold", "action"}
-- (docs/SCHEMA.md, "Event kinds"). Memory values are bytes.
-- Parameters:
--   :since, :until  time range, ms since epoch UTC
--   :programs       JSON array of program names to keep; '[]' keeps all
-- Columns:
--   time       when the breach was seen (ms UTC)
--   program    program or pool name
--   pid        the instance's pid, NULL when the breach was not tied to one process
--   limit      "max_memory_mb", "cgroup_memory", "tasks_max"
--   value      observed value
--   threshold  the configured limit (bytes for memory limits, a count for tasks)
--   action     "stop", "oom_kill", "fork_refused"
-- Plan: events_kind_ts range on (kind = 8, ts); programs and instances by primary key.
SELECT ts AS time, program, pid, limit_name AS "limit", value, threshold, action
FROM limit_breaches
WHERE ts >= :since AND ts < :until
  AND (json_array_length(:programs) = 0 OR program IN (SELECT value FROM json_each(:programs)))
ORDER BY ts, event_id;
