-- breaches: limit breaches in the range (`limit_breach` events, kind 8).
-- The event's value is the observed value; its detail is JSON {"limit", "threshold", "action"}
-- (see migrations/0001_init.sql). Memory values are bytes.
-- Parameters:
--   :since, :until  time range, ms since epoch UTC
--   :programs       JSON array of program names to keep; '[]' keeps all
-- Columns:
--   time       when the breach was seen (ms UTC)
--   program    program or pool name
--   pid        the instance's pid, NULL when the breach was not tied to one process
--   limit      "max_memory_mb", "cgroup_memory", "tasks_max", ...
--   value      observed value
--   threshold  the configured limit
--   action     "stop", "oom_kill", "fork_refused", ...
-- Plan: events_kind_ts range on (kind = 8, ts).
SELECT
    e.ts AS time,
    p.name AS program,
    i.pid AS pid,
    json_extract(e.detail, '$.limit') AS "limit",
    e.value AS value,
    json_extract(e.detail, '$.threshold') AS threshold,
    json_extract(e.detail, '$.action') AS action
FROM events e
LEFT JOIN instances i ON i.id = e.instance_id
LEFT JOIN programs p ON p.id = e.program_id
WHERE e.kind = 8 /* limit_breach */
  AND e.ts >= :since AND e.ts < :until
  AND (json_array_length(:programs) = 0 OR p.name IN (SELECT value FROM json_each(:programs)))
ORDER BY e.ts, e.id;
