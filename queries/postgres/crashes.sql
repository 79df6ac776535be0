-- crashes (fleet): the PostgreSQL twin of queries/crashes.sql over every shipped host (docs/FLEET.md).
-- The same rows and columns as the local report, plus `host` first; one host's rows equal its local answer.
-- Parameters: $1 since, $2 until (ms UTC, on the end time); $3 program names (text[], '{}' keeps all, a
-- pool worker as POOL.INDEX); $4 host ids (text[], '{}' keeps all); $5 keep only the newest N (NULL: all).
SELECT host, time, program, pid, exit_code, signal, core_dumped, uptime_s, restart_delay_s, reason, stderr_tail
FROM (
    SELECT i.host_id AS host, i.ended_at AS time, p.name AS program, i.pid AS pid, i.exit_code AS exit_code,
           i.signal AS signal, i.core_dumped AS core_dumped, i.uptime_ms / 1000.0::float8 AS uptime_s,
           i.restart_delay_ms / 1000.0::float8 AS restart_delay_s,
           i.class AS reason, i.stderr_tail AS stderr_tail, 0 AS source, i.db_epoch AS epoch, i.id AS seq
    FROM instances i
    JOIN programs p ON p.host_id = i.host_id AND p.db_epoch = i.db_epoch AND p.id = i.program_id
    WHERE i.class IN ('crash', 'limit') AND i.ended_at >= $1 AND i.ended_at < $2
      AND NOT EXISTS (SELECT 1 FROM operator_effects f
                       WHERE f.host_id = i.host_id AND f.db_epoch = i.db_epoch AND f.instance_id = i.id AND f.effect = 'ended')
      AND (cardinality($3::text[]) = 0 OR p.name = ANY($3::text[]) OR p.name || '.' || i.worker_index = ANY($3::text[]))
      AND (cardinality($4::text[]) = 0 OR i.host_id = ANY($4::text[]))
    UNION ALL
    -- A start that failed before the program ran: the failed step and errno text stand in for the stderr tail.
    SELECT e.host_id, e.ts, p.name, NULL, NULL, NULL, 0, NULL,
           (SELECT r.value FROM events r
             WHERE r.kind = 4 AND r.ts >= e.ts AND r.ts <= e.ts + 60000
               AND r.host_id = e.host_id AND r.db_epoch = e.db_epoch AND r.program_id = e.program_id AND r.id > e.id
             ORDER BY r.ts LIMIT 1) / 1000.0::float8,
           'spawn_failed',
           (e.detail::jsonb ->> 'step') || ' failed: ' || (e.detail::jsonb ->> 'reason') || ' (errno ' || e.value || ')',
           1, e.db_epoch, e.id
    FROM events e
    JOIN programs p ON p.host_id = e.host_id AND p.db_epoch = e.db_epoch AND p.id = e.program_id
    WHERE e.kind = 9 AND e.ts >= $1 AND e.ts < $2
      AND (cardinality($3::text[]) = 0 OR p.name = ANY($3::text[])
           OR p.name || '.' || (e.detail::jsonb ->> 'worker_index') = ANY($3::text[]))
      AND (cardinality($4::text[]) = 0 OR e.host_id = ANY($4::text[]))
    ORDER BY time DESC, host DESC, source DESC, epoch DESC, seq DESC
    LIMIT $5
) c
ORDER BY time, host, source, epoch, seq;
