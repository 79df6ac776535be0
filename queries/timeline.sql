-- timeline: every event in the range, all programs merged, oldest first (postmortem's timeline).
-- Parameters:
--   :since, :until  time range, ms since epoch UTC
--   :programs       JSON array of program names to keep; '[]' keeps all (supervisor events always stay)
-- Columns:
--   time     event time (ms UTC)
--   kind     event kind name (event_kinds.name)
--   program  program or pool name, NULL for supervisor events
--   pid      the instance's pid, when the event concerns one process
--   value    kind-specific number (see the events table's comment)
--   detail   kind-specific JSON, NULL when none
-- Plan: events_ts range.
SELECT e.ts AS time, k.name AS kind, p.name AS program, i.pid AS pid, e.value AS value, e.detail AS detail
FROM events e
JOIN event_kinds k ON k.id = e.kind
LEFT JOIN programs p ON p.id = e.program_id
LEFT JOIN instances i ON i.id = e.instance_id
WHERE e.ts >= :since AND e.ts < :until
  AND (json_array_length(:programs) = 0 OR p.name IS NULL OR p.name IN (SELECT value FROM json_each(:programs)))
ORDER BY e.ts, e.id;
