-- events: the event log for `histctl events`, one row per event, oldest first.
-- Parameters:
--   :since     ms since epoch UTC; events at or after it
--   :after_id  only events with a larger events.id (-1 = all); --follow polls with the last id it printed
--   :programs  JSON array of names to keep, '[]' keeps all: a program, a pool (all its workers), or one
--              worker as the logs name it ('jobs.0'); supervisor events are kept only when it is empty
--   :limit     at most this many rows (the oldest first)
-- Columns:
--   id, time (ms UTC), program (a pool worker as 'pool.N'), pid, event (event_kinds.name), value,
--   detail (JSON), exit_code, signal, class (of the instance, for exit/crash)
-- Plan: event_kinds is the outer loop (CROSS JOIN), one events_kind_ts range per kind from :since;
-- programs and instances by primary key.
WITH ev AS (
    SELECT e.id AS id, e.ts AS time, k.name AS event, e.value AS value, e.detail AS detail,
           p.name AS name,
           COALESCE(i.worker_index, json_extract(e.detail, '$.worker_index')) AS worker_index,
           i.pid AS pid, i.exit_code AS exit_code, i.signal AS signal, i.class AS class
    FROM event_kinds k
    CROSS JOIN events e ON e.kind = k.id
    LEFT JOIN programs p ON p.id = e.program_id
    LEFT JOIN instances i ON i.id = e.instance_id
    WHERE e.ts >= :since AND e.id > :after_id
)
SELECT id, time,
       CASE WHEN worker_index IS NOT NULL THEN name || '.' || worker_index ELSE name END AS program,
       pid, event, value, detail, exit_code, signal, class
FROM ev
WHERE json_array_length(:programs) = 0
   OR name IN (SELECT value FROM json_each(:programs))
   OR (worker_index IS NOT NULL AND name || '.' || worker_index IN (SELECT value FROM json_each(:programs)))
ORDER BY id
LIMIT :limit;
