-- timeline (fleet): the PostgreSQL twin of queries/timeline.sql over every shipped host (fleet postmortem):
-- every event in the range, all programs merged, oldest first, with `host` first.
-- Parameters: $1 since, $2 until (ms UTC); $3 program names (text[], '{}' keeps all; supervisor events
-- always stay); $4 host ids (text[], '{}' keeps all).
-- Plan: event_kinds is the outer loop, so the range is one events_kind_ts range per kind and day partition
-- (events has no index on ts alone), as in the local event_log view; programs and instances by primary key.
SELECT e.host_id AS host, e.ts AS time, k.name AS kind, p.name AS program, i.pid AS pid, e.value AS value,
       CASE WHEN e.kind = 20 THEN
           (x.d ->> 'user') || ' (uid ' || e.value || ', pid ' || (x.d ->> 'pid') || ', ' || (x.d ->> 'comm') || ') ' || (x.d ->> 'action')
           || CASE x.d ->> 'action' WHEN 'scale' THEN '' ELSE COALESCE(' ' || (x.d ->> 'argument'), '') END
           || COALESCE((SELECT ' ' || string_agg(j, ' ') FROM jsonb_array_elements_text(x.d -> 'programs') j), '')
           || CASE x.d ->> 'action' WHEN 'scale' THEN COALESCE(' ' || (x.d ->> 'argument'), '') ELSE '' END
           || ': ' || (x.d ->> 'result')
       ELSE e.detail END AS detail
FROM event_kinds k
JOIN events e ON e.kind = k.id
CROSS JOIN LATERAL (SELECT CASE WHEN e.kind = 20 THEN e.detail::jsonb END AS d) x
LEFT JOIN programs p ON p.host_id = e.host_id AND p.db_epoch = e.db_epoch AND p.id = e.program_id
LEFT JOIN instances i ON i.host_id = e.host_id AND i.db_epoch = e.db_epoch AND i.id = e.instance_id
WHERE e.ts >= $1 AND e.ts < $2
  AND (cardinality($4::text[]) = 0 OR e.host_id = ANY($4::text[]))
  AND (cardinality($3::text[]) = 0 OR p.name IS NULL OR p.name = ANY($3::text[]))
ORDER BY e.ts, e.host_id, e.db_epoch, e.id;
