-- zombies (fleet): the PostgreSQL twin of queries/zombies.sql over every shipped host (docs/FLEET.md):
-- processes that kept zombie children during the range, longest first, `host` first; one host's rows
-- equal its local answer. zombie_parents holds intervals per parent identity (pid, start ticks).
-- Parameters: $1 since, $2 until (ms UTC; an interval counts when it overlaps the range); $3 program names
-- (text[], '{}' keeps all, including parents of no supervised program; POOL.INDEX for a worker); $4 host
-- ids (text[], '{}' all); $5 min_scans; $6 min_duration_ms; $7 min_zombies.
-- Plan: zombie_parents_last_seen range on last_seen >= $1; the parent's instance by instances_identity
-- (host_id, db_epoch, pid, start_ticks, started_at); its program by primary key.
SELECT z.host_id AS host, z.parent_pid AS parent_pid, z.parent_name AS parent_name, z.parent_cmdline AS parent_cmdline,
       p.name AS program, z.max_zombies AS max_zombies, z.first_seen AS first_seen, z.last_seen AS last_seen,
       round((z.last_seen - z.first_seen) / 1000.0, 3)::float8 AS duration_s
FROM zombie_parents z
LEFT JOIN LATERAL (SELECT x.program_id, x.worker_index FROM instances x
                    WHERE x.host_id = z.host_id AND x.db_epoch = z.db_epoch
                      AND x.pid = z.parent_pid AND x.start_ticks = z.parent_start_ticks
                    ORDER BY x.started_at DESC LIMIT 1) i ON true
LEFT JOIN programs p ON p.host_id = z.host_id AND p.db_epoch = z.db_epoch AND p.id = i.program_id
WHERE z.last_seen >= $1 AND z.first_seen < $2
  AND z.scans >= $5 AND z.last_seen - z.first_seen >= $6 AND z.max_zombies >= $7
  AND (cardinality($3::text[]) = 0 OR p.name = ANY($3::text[]) OR p.name || '.' || i.worker_index = ANY($3::text[]))
  AND (cardinality($4::text[]) = 0 OR z.host_id = ANY($4::text[]))
ORDER BY z.last_seen - z.first_seen DESC, z.first_seen, z.host_id, z.db_epoch, z.id;
