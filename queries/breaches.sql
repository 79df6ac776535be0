-- breaches: limit breaches in the range (`limit_breach` events, kind 8): the rows of the limit_breaches
-- view plus the refused-fork count, read from events directly (one detail parse per row, no subquery).
-- The event's value is the observed value; its detail is JSON {"limit", "threshold", "action", "refused"}
-- (docs/SCHEMA.md, "Event kinds"). Memory values are bytes (tables show them in MiB, the unit of
-- max_memory_mb and of memory_max's "M").
-- Parameters:
--   :since, :until  time range, ms since epoch UTC
--   :programs       JSON array of program names, or pool workers as POOL.INDEX, to keep; '[]' keeps all
-- Columns:
--   time       when the breach was seen (ms UTC)
--   program    program or pool name
--   pid        the instance's pid, NULL when the breach was not tied to one process
--   limit      "max_memory_mb", "cgroup_memory", "tasks_max"
--   value      observed value (bytes for memory limits; for tasks_max the tasks in the cgroup at the poll)
--   threshold  the configured limit (bytes for memory limits, a count for tasks)
--   action     "stop", "oom_kill", "fork_refused"
--   refused    tasks_max: forks the kernel refused since the previous poll (pids.events "max"); NULL
--              for other limits and for breaches recorded before histd kept the count
-- Plan: events_kind_ts range on (kind = 8, ts); programs and instances by primary key.
SELECT e.ts AS time, p.name AS program, i.pid AS pid, json_extract(e.detail, '$.limit') AS "limit",
       e.value AS value, json_extract(e.detail, '$.threshold') AS threshold,
       json_extract(e.detail, '$.action') AS action, json_extract(e.detail, '$.refused') AS refused
FROM events e
LEFT JOIN programs p ON p.id = e.program_id
LEFT JOIN instances i ON i.id = e.instance_id
WHERE e.kind = 8 AND e.ts >= :since AND e.ts < :until
  AND (json_array_length(:programs) = 0 OR p.name IN (SELECT value FROM json_each(:programs))
       OR p.name || '.' || i.worker_index IN (SELECT value FROM json_each(:programs)))
ORDER BY e.ts, e.id;
