-- timeline: every event in the range, all programs merged, oldest first (postmortem's timeline).
-- Parameters:
--   :since, :until  time range, ms since epoch UTC
--   :programs       JSON array of program names to keep; '[]' keeps all (supervisor events always stay)
-- Columns:
--   time     event time (ms UTC)
--   kind     event kind name (event_kinds.name)
--   program  program or pool name, NULL for supervisor events and recording gaps
--   pid      the instance's pid, when the event concerns one process
--   value    kind-specific number (docs/SCHEMA.md, "Event kinds")
--   detail   kind-specific JSON, NULL when none; for operator_action a sentence instead:
--            root (uid 0, pid 812, histctl) restart web: done
-- Plan: the event_log view loops over event_kinds and reads one events_kind_ts range per kind (events
-- has no index on ts alone); programs and instances by primary key; one sort of the window's events.
SELECT ts AS time, kind, program, pid, value,
       CASE kind WHEN 'operator_action' THEN
           json_extract(detail, '$.user') || ' (uid ' || value || ', pid ' || json_extract(detail, '$.pid') || ', '
           || json_extract(detail, '$.comm') || ') ' || json_extract(detail, '$.action')
           || CASE json_extract(detail, '$.action') WHEN 'scale' THEN '' ELSE COALESCE(' ' || json_extract(detail, '$.argument'), '') END
           || COALESCE((SELECT ' ' || group_concat(j.value, ' ') FROM json_each(detail, '$.programs') j), '')
           || CASE json_extract(detail, '$.action') WHEN 'scale' THEN COALESCE(' ' || json_extract(detail, '$.argument'), '') ELSE '' END
           || ': ' || json_extract(detail, '$.result')
       ELSE detail END AS detail
FROM event_log
WHERE ts >= :since AND ts < :until
  AND (json_array_length(:programs) = 0 OR program IS NULL OR program IN (SELECT value FROM json_each(:programs)))
ORDER BY ts, id;
