-- loops (fleet): the twin of queries/loops.sql per host (docs/FLEET.md). A program (or pool: its workers
-- count together) is in a loop when at least $6 crashes fall inside one sliding window of $5 ms in the
-- range; a crash belongs to the loop when some run of $6 consecutive crashes that holds it spans at most
-- $5 ms (HistReports CrashLoopAggregate, here with window functions). Crashes are the rows of crashes.sql.
-- Parameters: $1 since, $2 until (ms UTC); $3 program names (text[], '{}' all); $4 host ids (text[], '{}'
-- all); $5 window_ms; $6 min_crashes.
-- Columns: host, then those of the local report; state is the fleet status state (queries/postgres/status.sql).
WITH c AS MATERIALIZED (
    SELECT i.host_id AS host, i.db_epoch AS epoch, i.program_id AS program_id, i.ended_at AS ts,
           i.worker_index AS worker, i.uptime_ms AS uptime_ms
    FROM instances i
    JOIN programs p ON p.host_id = i.host_id AND p.db_epoch = i.db_epoch AND p.id = i.program_id
    WHERE i.class IN ('crash', 'limit') AND i.ended_at >= $1 AND i.ended_at < $2
      AND NOT EXISTS (SELECT 1 FROM operator_effects f
                       WHERE f.host_id = i.host_id AND f.db_epoch = i.db_epoch AND f.instance_id = i.id AND f.effect = 'ended')
      AND (cardinality($3::text[]) = 0 OR p.name = ANY($3::text[]))
      AND (cardinality($4::text[]) = 0 OR i.host_id = ANY($4::text[]))
    UNION ALL
    SELECT e.host_id, e.db_epoch, e.program_id, e.ts, (e.detail::jsonb ->> 'worker_index')::bigint, NULL
    FROM events e
    JOIN programs p ON p.host_id = e.host_id AND p.db_epoch = e.db_epoch AND p.id = e.program_id
    WHERE e.kind = 9 AND e.ts >= $1 AND e.ts < $2
      AND (cardinality($3::text[]) = 0 OR p.name = ANY($3::text[]))
      AND (cardinality($4::text[]) = 0 OR e.host_id = ANY($4::text[]))
),
runs AS (
    SELECT c.*, coalesce(lead(ts, $6::int - 1) OVER w - ts <= $5, false) AS starts_loop
    FROM c WINDOW w AS (PARTITION BY host, epoch, program_id ORDER BY ts)
),
-- Not MATERIALIZED: the loops' GROUP BY then reads the window's output in its (host, epoch, program, ts)
-- order instead of sorting 1.6 M member rows again on disk (BENCHMARKS.md, fleet loops).
members AS (
    SELECT * FROM (
        SELECT r.*, bool_or(starts_loop) OVER (PARTITION BY host, epoch, program_id ORDER BY ts
                                                ROWS BETWEEN $6::int - 1 PRECEDING AND CURRENT ROW) AS member
        FROM runs r
    ) x WHERE member
),
loops AS (
    SELECT host, epoch, program_id, COUNT(*) AS crashes, MIN(ts) AS first, MAX(ts) AS last,
           MAX(uptime_ms) AS longest_uptime_ms,
           array_agg(DISTINCT worker) FILTER (WHERE worker IS NOT NULL) AS workers
    FROM members GROUP BY host, epoch, program_id
)
SELECT l.host AS host, p.name AS program, l.crashes AS crashes, l.first AS first, l.last AS last,
       round(l.longest_uptime_ms / 1000.0, 3)::float8 AS longest_uptime_s,
       (SELECT MAX(r.value) FROM events r
         WHERE r.kind = 4 AND r.host_id = l.host AND r.db_epoch = l.epoch AND r.program_id = l.program_id
           AND r.ts >= l.first AND r.ts <= l.last + 5000) / 1000.0::float8 AS max_restart_delay_s,
       EXISTS (SELECT 1 FROM events g WHERE g.kind = 5 AND g.ts >= l.first AND g.ts < $2
                 AND g.host_id = l.host AND g.db_epoch = l.epoch AND g.program_id = l.program_id)::int AS gave_up,
       (SELECT CASE WHEN s.ended_at IS NULL THEN 'running' ELSE coalesce(s.class, 'ended') END
          FROM fleet_status s WHERE s.host_id = l.host AND s.db_epoch = l.epoch AND s.program_id = l.program_id) AS state,
       (SELECT string_agg(w::text, ',' ORDER BY w) FROM unnest(l.workers) w) AS workers
FROM loops l
JOIN programs p ON p.host_id = l.host AND p.db_epoch = l.epoch AND p.id = l.program_id
ORDER BY l.crashes DESC, p.name, l.host;
