-- crashes --summary (fleet): the twin of queries/crashes_summary.sql, per host and program (docs/FLEET.md).
-- Parameters: $1 since, $2 until (ms UTC); $3 program names (text[], '{}' all); $4 host ids (text[], '{}' all).
WITH c AS (
    SELECT i.host_id AS host, p.name AS program, i.class AS class, i.exit_code AS exit_code, i.signal AS signal,
           i.ended_at AS ended_at
    FROM instances i
    JOIN programs p ON p.host_id = i.host_id AND p.db_epoch = i.db_epoch AND p.id = i.program_id
    WHERE i.class IN ('crash', 'limit') AND i.ended_at >= $1 AND i.ended_at < $2
      AND NOT EXISTS (SELECT 1 FROM operator_effects f
                       WHERE f.host_id = i.host_id AND f.db_epoch = i.db_epoch AND f.instance_id = i.id AND f.effect = 'ended')
      AND (cardinality($3::text[]) = 0 OR p.name = ANY($3::text[]) OR p.name || '.' || i.worker_index = ANY($3::text[]))
      AND (cardinality($4::text[]) = 0 OR i.host_id = ANY($4::text[]))
),
-- Two passes: first per (host, program, class, exit code, signal), a hash aggregate with few groups,
-- then per (host, program) over those few rows. The DISTINCT aggregates over every crash sorted all of
-- them (1.9 M over 100 hosts x 1 day: 2.6 s, on disk); this is 1.1 s on the same fleet (BENCHMARKS.md).
-- (A correlated subquery per group, the first form, was O(groups x crashes).)
g AS (
    SELECT host, program, class, exit_code, signal, COUNT(*) AS n, MIN(ended_at) AS first, MAX(ended_at) AS last
    FROM c GROUP BY host, program, class, exit_code, signal
)
SELECT host, program, SUM(n)::bigint AS crashes, SUM(CASE WHEN class = 'limit' THEN n ELSE 0 END)::bigint AS limit_kills,
       MIN(first) AS first, MAX(last) AS last,
       array_to_string(array_agg(DISTINCT exit_code ORDER BY exit_code) FILTER (WHERE exit_code >= 0), ',') AS exit_codes,
       array_to_string(array_agg(DISTINCT signal ORDER BY signal) FILTER (WHERE signal <> 0), ',') AS signals
FROM g
GROUP BY host, program
ORDER BY crashes DESC, program, host;
