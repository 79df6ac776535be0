-- crashes --summary (fleet): the twin of queries/crashes_summary.sql, per host and program (docs/FLEET.md).
-- Parameters: $1 since, $2 until (ms UTC); $3 program names (text[], '{}' all); $4 host ids (text[], '{}' all).
-- Plan: the range split into the longest aligned spans that fit, read from rollups kept exact by triggers,
-- and raw instances (index instances_crashes, a range on ended_at) only where no span fits.
-- - No --program filter: whole 6-hour spans, then whole hours, then whole 10-minute spans from crash_spans
--   (central migration 0005: one row per span and program, the outcomes as sorted arrays), and raw rows
--   for the minutes before the first 10-minute span and after the last. A day over 100 hosts is about
--   60,000 rows and 13,000 raw crashes.
-- - With --program (which can name a pool worker slot, POOL.INDEX): the whole hours from crash_hours (0003:
--   per hour, program, worker slot and outcome), the partial hours at both edges raw.
-- Then per (host, epoch, program, worker) and per (host, program) over those rows; the arrays of codes and
-- signals are concatenated and their distinct values taken once per result row. BENCHMARKS.md has the
-- figures (reading every crash of a day over 100 hosts took 1.2 s, whole hours and raw edges 250 ms).
WITH
-- lo: since rounded up to a multiple of s, hi: until rounded down; a level whose spans do not fit is an
-- empty range at the start of the level below it, so that each level's two edge ranges cover exactly
-- what the levels above it leave (HistReports ReportScope.wholeHours does the same for hours).
t AS (SELECT lo, hi, lo < hi AS ok
      FROM (SELECT $1::bigint + (600000 - (($1::bigint % 600000) + 600000) % 600000) % 600000 AS lo,
                   $2::bigint - (($2::bigint % 600000) + 600000) % 600000 AS hi) z),
t2 AS (SELECT CASE WHEN ok THEN lo ELSE $2::bigint END AS tlo, CASE WHEN ok THEN hi ELSE $2::bigint END AS thi FROM t),
h AS (SELECT t2.*, CASE WHEN z.lo < z.hi THEN z.lo ELSE t2.tlo END AS hlo, CASE WHEN z.lo < z.hi THEN z.hi ELSE t2.tlo END AS hhi
      FROM t2, (SELECT $1::bigint + (3600000 - (($1::bigint % 3600000) + 3600000) % 3600000) % 3600000 AS lo,
                       $2::bigint - (($2::bigint % 3600000) + 3600000) % 3600000 AS hi) z),
b AS MATERIALIZED (
    SELECT h.*, CASE WHEN z.lo < z.hi THEN z.lo ELSE h.hlo END AS blo, CASE WHEN z.lo < z.hi THEN z.hi ELSE h.hlo END AS bhi,
           -- The raw edges: outside the 10-minute spans, or with a filter outside the whole hours.
           CASE WHEN cardinality($3::text[]) = 0 THEN h.tlo ELSE h.hlo END AS rlo,
           CASE WHEN cardinality($3::text[]) = 0 THEN h.thi ELSE h.hhi END AS rhi
    FROM h, (SELECT $1::bigint + (21600000 - (($1::bigint % 21600000) + 21600000) % 21600000) % 21600000 AS lo,
                    $2::bigint - (($2::bigint % 21600000) + 21600000) % 21600000 AS hi) z
),
-- The bounds as scalar subqueries, not a join with b: so each branch is an index range (a join with the
-- one-row CTE was planned as a filter over a sequential scan of every crash).
parts AS (
    SELECT c.host_id AS host, c.db_epoch AS epoch, c.program_id AS program_id, -1::bigint AS worker, c.crashes AS n,
           c.limit_kills AS lim, c.first_ms AS first, c.last_ms AS last, c.exit_codes AS codes, c.signals AS sigs
    FROM crash_spans c
    WHERE cardinality($3::text[]) = 0 AND c.span_ms = 21600000
      AND c.start_ms >= (SELECT blo FROM b) AND c.start_ms < (SELECT bhi FROM b)
      AND (cardinality($4::text[]) = 0 OR c.host_id = ANY($4::text[]))
    UNION ALL
    SELECT c.host_id, c.db_epoch, c.program_id, -1, c.crashes, c.limit_kills, c.first_ms, c.last_ms, c.exit_codes, c.signals
    FROM crash_spans c
    WHERE cardinality($3::text[]) = 0 AND c.span_ms = 3600000
      AND ((c.start_ms >= (SELECT hlo FROM b) AND c.start_ms < (SELECT blo FROM b))
           OR (c.start_ms >= (SELECT bhi FROM b) AND c.start_ms < (SELECT hhi FROM b)))
      AND (cardinality($4::text[]) = 0 OR c.host_id = ANY($4::text[]))
    UNION ALL
    SELECT c.host_id, c.db_epoch, c.program_id, -1, c.crashes, c.limit_kills, c.first_ms, c.last_ms, c.exit_codes, c.signals
    FROM crash_spans c
    WHERE cardinality($3::text[]) = 0 AND c.span_ms = 600000
      AND ((c.start_ms >= (SELECT tlo FROM b) AND c.start_ms < (SELECT hlo FROM b))
           OR (c.start_ms >= (SELECT hhi FROM b) AND c.start_ms < (SELECT thi FROM b)))
      AND (cardinality($4::text[]) = 0 OR c.host_id = ANY($4::text[]))
    UNION ALL
    SELECT c.host_id, c.db_epoch, c.program_id, c.worker, c.crashes, CASE WHEN c.class = 'limit' THEN c.crashes ELSE 0 END,
           c.first_ms, c.last_ms, ARRAY[c.exit_code], ARRAY[c.signal]
    FROM crash_hours c
    WHERE cardinality($3::text[]) > 0 AND c.hour >= (SELECT hlo FROM b) AND c.hour < (SELECT hhi FROM b)
      AND (cardinality($4::text[]) = 0 OR c.host_id = ANY($4::text[]))
    UNION ALL
    SELECT i.host_id, i.db_epoch, i.program_id, coalesce(i.worker_index, -1), count(*), count(*) FILTER (WHERE i.class = 'limit'),
           min(i.ended_at), max(i.ended_at), ARRAY[coalesce(i.exit_code, -1)], ARRAY[coalesce(i.signal, 0)]
    FROM instances i
    WHERE i.class IN ('crash', 'limit')
      AND ((i.ended_at >= $1 AND i.ended_at < (SELECT rlo FROM b)) OR (i.ended_at >= (SELECT rhi FROM b) AND i.ended_at < $2))
      AND NOT EXISTS (SELECT 1 FROM operator_effects f
                       WHERE f.host_id = i.host_id AND f.db_epoch = i.db_epoch AND f.instance_id = i.id AND f.effect = 'ended')
      AND (cardinality($4::text[]) = 0 OR i.host_id = ANY($4::text[]))
    GROUP BY i.host_id, i.db_epoch, i.program_id, coalesce(i.worker_index, -1), coalesce(i.exit_code, -1), coalesce(i.signal, 0)
),
-- Per (host, epoch, program, worker) first: a few thousand rows, before the join to programs. Grouping by
-- the arrays instead was slower (hashing them).
k AS (
    SELECT host, epoch, program_id, worker, sum(n) AS n, sum(lim) AS lim, min(first) AS first, max(last) AS last,
           crash_spans_cat(codes) AS codes, crash_spans_cat(sigs) AS sigs
    FROM parts GROUP BY host, epoch, program_id, worker
),
g AS (
    SELECT x.host AS host, p.name AS program, sum(x.n) AS n, sum(x.lim) AS lim, min(x.first) AS first, max(x.last) AS last,
           crash_spans_cat(x.codes) AS codes, crash_spans_cat(x.sigs) AS sigs
    FROM k x
    JOIN programs p ON p.host_id = x.host AND p.db_epoch = x.epoch AND p.id = x.program_id
    WHERE cardinality($3::text[]) = 0 OR p.name = ANY($3::text[])
          OR (x.worker >= 0 AND p.name || '.' || x.worker = ANY($3::text[]))
    GROUP BY x.host, p.name
)
SELECT host, program, n::bigint AS crashes, lim::bigint AS limit_kills, first, last,
       (SELECT string_agg(v::text, ',' ORDER BY v) FROM (SELECT DISTINCT v FROM unnest(g.codes) v WHERE v >= 0) d) AS exit_codes,
       (SELECT string_agg(v::text, ',' ORDER BY v) FROM (SELECT DISTINCT v FROM unnest(g.sigs) v WHERE v <> 0) d) AS signals
FROM g
ORDER BY crashes DESC, program, host;
