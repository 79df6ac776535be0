-- crashes --summary (fleet): the twin of queries/crashes_summary.sql, per host and program (docs/FLEET.md).
-- Parameters: $1 since, $2 until (ms UTC); $3 program names (text[], '{}' all); $4 host ids (text[], '{}' all).
-- Plan, as the local report's: the whole UTC hours inside the range from the crash_hours rollup (central
-- migration 0003: exact, kept by triggers; a primary-key range on hour), the partial hours at both edges
-- from instances (index instances_crashes, a range on ended_at); then per (host, program, outcome) and per
-- (host, program) over those few rows. Reading every crash of the range (1.9 M over 100 hosts x 1 day)
-- took 1.2 s; BENCHMARKS.md has the figures.
WITH
-- The whole hours [wf, wu) inside [since, until), aligned as the rollup's hours; both are until when none
-- fits (HistReports ReportScope.wholeHours).
f AS (SELECT $1::bigint - (($1::bigint % 3600000) + 3600000) % 3600000 AS fs,
             $2::bigint - (($2::bigint % 3600000) + 3600000) % 3600000 AS fu),
x AS (SELECT CASE WHEN fs = $1::bigint THEN fs ELSE fs + 3600000 END AS lo, fu AS hi FROM f),
b AS MATERIALIZED (SELECT CASE WHEN lo < hi THEN lo ELSE $2::bigint END AS wf, CASE WHEN lo < hi THEN hi ELSE $2::bigint END AS wu FROM x),
-- The bounds as scalar subqueries, not a join with b: so each branch is an index range (a join with the
-- one-row CTE was planned as a filter over a sequential scan of every crash).
parts AS (
    SELECT c.host_id AS host, c.db_epoch AS epoch, c.program_id AS program_id, c.worker AS worker, c.class AS class,
           c.exit_code AS exit_code, c.signal AS signal, c.crashes AS n, c.first_ms AS first, c.last_ms AS last
    FROM crash_hours c
    WHERE c.hour >= (SELECT wf FROM b) AND c.hour < (SELECT wu FROM b)
      AND (cardinality($4::text[]) = 0 OR c.host_id = ANY($4::text[]))
    UNION ALL
    SELECT i.host_id, i.db_epoch, i.program_id, coalesce(i.worker_index, -1), i.class, coalesce(i.exit_code, -1),
           coalesce(i.signal, 0), 1, i.ended_at, i.ended_at
    FROM instances i
    WHERE i.class IN ('crash', 'limit') AND i.ended_at >= $1 AND i.ended_at < (SELECT wf FROM b)
      AND NOT EXISTS (SELECT 1 FROM operator_effects f
                       WHERE f.host_id = i.host_id AND f.db_epoch = i.db_epoch AND f.instance_id = i.id AND f.effect = 'ended')
      AND (cardinality($4::text[]) = 0 OR i.host_id = ANY($4::text[]))
    UNION ALL
    SELECT i.host_id, i.db_epoch, i.program_id, coalesce(i.worker_index, -1), i.class, coalesce(i.exit_code, -1),
           coalesce(i.signal, 0), 1, i.ended_at, i.ended_at
    FROM instances i
    WHERE i.class IN ('crash', 'limit') AND i.ended_at >= (SELECT wu FROM b) AND i.ended_at < $2
      AND NOT EXISTS (SELECT 1 FROM operator_effects f
                       WHERE f.host_id = i.host_id AND f.db_epoch = i.db_epoch AND f.instance_id = i.id AND f.effect = 'ended')
      AND (cardinality($4::text[]) = 0 OR i.host_id = ANY($4::text[]))
),
-- Per (host, epoch, program, worker, outcome) first: a few thousand rows, before the join to programs.
k AS (
    SELECT host, epoch, program_id, worker, class, exit_code, signal, SUM(n) AS n, MIN(first) AS first, MAX(last) AS last
    FROM parts GROUP BY host, epoch, program_id, worker, class, exit_code, signal
),
g AS (
    SELECT x.host AS host, p.name AS program, x.class AS class, x.exit_code AS exit_code, x.signal AS signal,
           SUM(x.n) AS n, MIN(x.first) AS first, MAX(x.last) AS last
    FROM k x
    JOIN programs p ON p.host_id = x.host AND p.db_epoch = x.epoch AND p.id = x.program_id
    WHERE cardinality($3::text[]) = 0 OR p.name = ANY($3::text[])
          OR (x.worker >= 0 AND p.name || '.' || x.worker = ANY($3::text[]))
    GROUP BY x.host, p.name, x.class, x.exit_code, x.signal
)
SELECT host, program, SUM(n)::bigint AS crashes, SUM(CASE WHEN class = 'limit' THEN n ELSE 0 END)::bigint AS limit_kills,
       MIN(first) AS first, MAX(last) AS last,
       array_to_string(array_agg(DISTINCT exit_code ORDER BY exit_code) FILTER (WHERE exit_code >= 0), ',') AS exit_codes,
       array_to_string(array_agg(DISTINCT signal ORDER BY signal) FILTER (WHERE signal <> 0), ',') AS signals
FROM g
GROUP BY host, program
ORDER BY crashes DESC, program, host;
