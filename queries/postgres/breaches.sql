-- breaches (fleet): the PostgreSQL twin of queries/breaches.sql over every shipped host (docs/FLEET.md).
-- The same rows and columns as the local report, plus `host` first; one host's rows equal its local answer.
-- `limit_breach` events (kind 8): the event's value is the observed value; its detail is JSON {"limit",
-- "threshold", "action", "refused"} (docs/SCHEMA.md, "Event kinds"); threshold and refused are integers
-- there, as json_extract returns them locally.
-- Parameters: $1 since, $2 until (ms UTC, on ts); $3 program names (text[], '{}' keeps all, a pool worker
-- as POOL.INDEX); $4 host ids (text[], '{}' keeps all).
-- Plan: events_kind_ts range on (kind = 8, ts) in each day partition; programs and instances by primary key.
SELECT e.host_id AS host, e.ts AS time, p.name AS program, i.pid AS pid, x.d ->> 'limit' AS "limit",
       e.value AS value, (x.d ->> 'threshold')::numeric::bigint AS threshold,
       x.d ->> 'action' AS action, (x.d ->> 'refused')::numeric::bigint AS refused
FROM events e
CROSS JOIN LATERAL (SELECT e.detail::jsonb AS d) x
LEFT JOIN programs p ON p.host_id = e.host_id AND p.db_epoch = e.db_epoch AND p.id = e.program_id
LEFT JOIN instances i ON i.host_id = e.host_id AND i.db_epoch = e.db_epoch AND i.id = e.instance_id
WHERE e.kind = 8 AND e.ts >= $1 AND e.ts < $2
  AND (cardinality($3::text[]) = 0 OR p.name = ANY($3::text[]) OR p.name || '.' || i.worker_index = ANY($3::text[]))
  AND (cardinality($4::text[]) = 0 OR e.host_id = ANY($4::text[]))
ORDER BY e.ts, e.host_id, e.db_epoch, e.id;
