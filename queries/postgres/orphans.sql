-- orphans (fleet): the PostgreSQL twin of queries/orphans.sql over every shipped host (docs/FLEET.md):
-- long-lived orphan processes seen during the range, oldest first, `host` first; one host's rows equal its
-- local answer. `alive`: the host's newest scan that histd-ship has shipped (ship_cursor.last_scan_at)
-- saw it, where the local report asks the local `scans` table; NULL before a host shipped a scan time.
-- Parameters: $1 since, $2 until (ms UTC; an interval counts when it overlaps the range); $3 program names
-- (text[], '{}' keeps all, including unknown origin); $4 host ids (text[], '{}' all); $5 older_than_ms.
-- Plan: orphans_last_seen range on last_seen >= $1; ship_cursor and programs by primary key.
SELECT o.host_id AS host, o.pid AS pid, o.name AS name, o.cmdline AS cmdline, o."user" AS "user",
       o.started_at AS started, round((o.last_seen - o.started_at) / 1000.0, 3)::float8 AS age_s,
       o.first_seen AS first_seen, o.last_seen AS last_seen, (o.last_seen >= c.last_scan_at)::int AS alive,
       p.name AS program
FROM orphans o
LEFT JOIN ship_cursor c ON c.host_id = o.host_id AND c.db_epoch = o.db_epoch
LEFT JOIN programs p ON p.host_id = o.host_id AND p.db_epoch = o.db_epoch AND p.id = o.program_id
WHERE o.last_seen >= $1 AND o.first_seen < $2
  AND o.last_seen - o.started_at >= $5
  AND (cardinality($3::text[]) = 0 OR p.name = ANY($3::text[]))
  AND (cardinality($4::text[]) = 0 OR o.host_id = ANY($4::text[]))
ORDER BY o.started_at, o.host_id, o.db_epoch, o.id;
