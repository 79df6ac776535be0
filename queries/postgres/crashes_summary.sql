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
)
-- One pass: the distinct exit codes and signals are aggregates of the group (a correlated subquery per
-- group over the whole CTE was O(groups x crashes): 5 s for 5 hosts x 10 programs).
SELECT host, program, COUNT(*) AS crashes, SUM(CASE WHEN class = 'limit' THEN 1 ELSE 0 END) AS limit_kills,
       MIN(ended_at) AS first, MAX(ended_at) AS last,
       array_to_string(array_agg(DISTINCT exit_code ORDER BY exit_code) FILTER (WHERE exit_code >= 0), ',') AS exit_codes,
       array_to_string(array_agg(DISTINCT signal ORDER BY signal) FILTER (WHERE signal <> 0), ',') AS signals
FROM c
GROUP BY host, program
ORDER BY crashes DESC, program, host;
