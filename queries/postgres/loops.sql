-- loops (fleet): the twin of queries/loops.sql per host (docs/FLEET.md). A program (or pool: its workers
-- count together) is in a loop when at least $6 crashes fall inside one sliding window of $5 ms in the
-- range; a crash belongs to the loop when some run of $6 consecutive crashes that holds it spans at most
-- $5 ms (HistReports CrashLoopAggregate, here with window functions). Crashes are the rows of crashes.sql.
-- Parameters: $1 since, $2 until (ms UTC); $3 program names (text[], '{}' all); $4 host ids (text[], '{}'
-- all); $5 window_ms; $6 min_crashes.
-- Columns: host, then those of the local report; state is the fleet status state (queries/postgres/status.sql).
-- Plan, as the local report's: when the window and count are loop_hours' (10 min, 3), the whole UTC hours
-- that lie at least one window inside the range, [loop_from, loop_until), come from the loop_hours rollup
-- (central migration 0004: exact, the members over each host's whole history; one window inside the
-- range that is the same as within the range, since a crash's membership depends only on the crashes
-- within one window of it). The edges come from raw rows, [since, loop_from + W) and [loop_until - W,
-- until), where the rows inside [loop_from, loop_until) are context only. Otherwise loop_from =
-- loop_until = until and every crash of the range is read raw. Reading and ordering every crash of a day
-- over 100 hosts took ~3 s by itself (BENCHMARKS.md). The longest restart delay of each loop's span: its
-- whole hours from program_hours, its partial hours at both ends from events only where that hour's
-- program_hours maximum could raise the answer.
WITH
hrs AS MATERIALIZED (
    SELECT CASE WHEN ok THEN lf ELSE $2::bigint END AS loop_from, CASE WHEN ok THEN lu ELSE $2::bigint END AS loop_until
    FROM (SELECT lf, lu, ($5::bigint = 600000 AND $6::int = 3 AND lf > 0 AND lf < lu) AS ok
          -- lf: lo rounded up to a whole hour, lu: hi rounded down (HistReports ReportScope.wholeHours);
          -- clamped so that one window either side cannot overflow.
          FROM (SELECT lo + (3600000 - ((lo % 3600000) + 3600000) % 3600000) % 3600000 AS lf,
                       hi - ((hi % 3600000) + 3600000) % 3600000 AS lu
                FROM (SELECT greatest($1::bigint, -4611686018427387904) + 600000 AS lo,
                             least($2::bigint, 4611686018427387904) - 600000 AS hi) r) x) y
),
-- The raw edges as two ranges, disjoint, the second empty when no hour comes from the rollup.
edges AS MATERIALIZED (
    SELECT $1::bigint AS e1lo, least($2::bigint, loop_from + 600000) AS e1hi,
           greatest($1::bigint, loop_until - 600000, least($2::bigint, loop_from + 600000)) AS e2lo, $2::bigint AS e2hi,
           loop_from, loop_until
    FROM hrs
),
-- The bounds as scalar subqueries, so that each branch is an index range (crashes_summary.sql's lesson).
c AS MATERIALIZED (
    SELECT i.host_id AS host, i.db_epoch AS epoch, i.program_id AS program_id, i.ended_at AS ts,
           coalesce(i.worker_index, -1) AS worker, i.uptime_ms AS uptime_ms
    FROM instances i
    WHERE i.class IN ('crash', 'limit')
      AND ((i.ended_at >= (SELECT e1lo FROM edges) AND i.ended_at < (SELECT e1hi FROM edges))
           OR (i.ended_at >= (SELECT e2lo FROM edges) AND i.ended_at < (SELECT e2hi FROM edges)))
      AND NOT EXISTS (SELECT 1 FROM operator_effects f
                       WHERE f.host_id = i.host_id AND f.db_epoch = i.db_epoch AND f.instance_id = i.id AND f.effect = 'ended')
      AND (cardinality($4::text[]) = 0 OR i.host_id = ANY($4::text[]))
    UNION ALL
    SELECT e.host_id, e.db_epoch, e.program_id, e.ts, loop_worker(e.detail), NULL
    FROM events e
    WHERE e.kind = 9 AND e.program_id IS NOT NULL
      AND ((e.ts >= (SELECT e1lo FROM edges) AND e.ts < (SELECT e1hi FROM edges))
           OR (e.ts >= (SELECT e2lo FROM edges) AND e.ts < (SELECT e2hi FROM edges)))
      AND (cardinality($4::text[]) = 0 OR e.host_id = ANY($4::text[]))
),
runs AS (
    SELECT c.*, coalesce(lead(ts, $6::int - 1) OVER w - ts <= $5, false) AS starts_loop
    FROM c WINDOW w AS (PARTITION BY host, epoch, program_id ORDER BY ts)
),
-- Members that count: outside the rollup's hours (inside them, context only).
members AS (
    SELECT * FROM (
        SELECT r.*, bool_or(starts_loop) OVER (PARTITION BY host, epoch, program_id ORDER BY ts
                                                ROWS BETWEEN $6::int - 1 PRECEDING AND CURRENT ROW) AS member
        FROM runs r
    ) x
    WHERE member AND (ts < (SELECT loop_from FROM hrs) OR ts >= (SELECT loop_until FROM hrs))
),
-- Per host, epoch, program and worker slot: the raw members, and the rollup's hours (a primary-key range).
slots AS MATERIALIZED (
    SELECT host, epoch, program_id, worker, count(*) AS crashes, min(ts) AS first, max(ts) AS last, max(uptime_ms) AS up
    FROM members GROUP BY host, epoch, program_id, worker
    UNION ALL
    SELECT h.host_id, h.db_epoch, h.program_id, h.worker, sum(h.members)::bigint, min(h.first_ms), max(h.last_ms), max(h.longest_uptime_ms)
    FROM loop_hours h
    WHERE h.hour >= (SELECT loop_from FROM hrs) AND h.hour < (SELECT loop_until FROM hrs)
      AND (cardinality($4::text[]) = 0 OR h.host_id = ANY($4::text[]))
    GROUP BY h.host_id, h.db_epoch, h.program_id, h.worker
),
loops AS MATERIALIZED (
    SELECT s.host, s.epoch, s.program_id, p.name AS program, sum(s.crashes)::bigint AS crashes, min(s.first) AS first,
           max(s.last) AS last, max(s.up) AS longest_uptime_ms,
           array_agg(DISTINCT s.worker) FILTER (WHERE s.worker >= 0) AS workers
    FROM slots s
    JOIN programs p ON p.host_id = s.host AND p.db_epoch = s.epoch AND p.id = s.program_id
    WHERE cardinality($3::text[]) = 0 OR p.name = ANY($3::text[])
    GROUP BY s.host, s.epoch, s.program_id, p.name
),
-- The longest restart delay scheduled in each loop's span [first, last + 5 s]: the whole hours [h1, h2)
-- inside it from program_hours; then the partial hours at its two ends (the same one twice when the span
-- lies in one hour, which max does not mind), read from events only where that hour's maximum is larger
-- than the whole hours' (else no event of it can raise the answer).
whole AS MATERIALIZED (
    SELECT l.host, l.epoch, l.program_id, max(ph.max_restart_delay_ms) AS d
    FROM loops l
    JOIN program_hours ph ON ph.host_id = l.host AND ph.db_epoch = l.epoch AND ph.program_id = l.program_id
     AND ph.hour >= l.first - l.first % 3600000 + 3600000 AND ph.hour < (l.last + 5000) - (l.last + 5000) % 3600000
    GROUP BY l.host, l.epoch, l.program_id
),
edge_spans AS (
    SELECT l.host, l.epoch, l.program_id, l.first - l.first % 3600000 AS hour, l.first AS lo,
           least(l.last + 5000, l.first - l.first % 3600000 + 3599999) AS hi
    FROM loops l
    UNION ALL
    SELECT l.host, l.epoch, l.program_id, (l.last + 5000) - (l.last + 5000) % 3600000,
           greatest(l.first, (l.last + 5000) - (l.last + 5000) % 3600000), l.last + 5000
    FROM loops l
),
edge AS MATERIALIZED (
    SELECT s.host, s.epoch, s.program_id, max(r.value) AS d
    FROM edge_spans s
    JOIN program_hours ph ON ph.host_id = s.host AND ph.db_epoch = s.epoch AND ph.program_id = s.program_id AND ph.hour = s.hour
    LEFT JOIN whole w ON w.host = s.host AND w.epoch = s.epoch AND w.program_id = s.program_id
    JOIN events r ON r.host_id = s.host AND r.db_epoch = s.epoch AND r.program_id = s.program_id AND r.kind = 4
                 AND r.ts >= s.lo AND r.ts <= s.hi
    WHERE w.d IS NULL OR ph.max_restart_delay_ms > w.d
    GROUP BY s.host, s.epoch, s.program_id
),
-- Each loop with its delays by one GROUP BY, not a join of the CTEs: their row estimates are guesses,
-- and a nested loop of 5,000 loops by 5,000 whole-hour maxima took 2.7 s of 3.8.
done AS (
    SELECT u.host, u.epoch, u.program_id, max(u.program) AS program, max(u.crashes) AS crashes, min(u.first) AS first,
           max(u.last) AS last, max(u.longest_uptime_ms) AS longest_uptime_ms, max(u.workers) AS workers, max(u.d) AS d
    FROM (SELECT l.host, l.epoch, l.program_id, l.program, l.crashes, l.first, l.last, l.longest_uptime_ms, l.workers, NULL::bigint AS d
          FROM loops l
          UNION ALL
          SELECT w.host, w.epoch, w.program_id, NULL, NULL, NULL, NULL, NULL, NULL, w.d FROM whole w
          UNION ALL
          SELECT e.host, e.epoch, e.program_id, NULL, NULL, NULL, NULL, NULL, NULL, e.d FROM edge e) u
    GROUP BY u.host, u.epoch, u.program_id
)
SELECT l.host AS host, l.program AS program, l.crashes AS crashes, l.first AS first, l.last AS last,
       round(l.longest_uptime_ms / 1000.0, 3)::float8 AS longest_uptime_s,
       l.d / 1000.0::float8 AS max_restart_delay_s,
       EXISTS (SELECT 1 FROM events g WHERE g.kind = 5 AND g.ts >= l.first AND g.ts < $2
                 AND g.host_id = l.host AND g.db_epoch = l.epoch AND g.program_id = l.program_id)::int AS gave_up,
       (SELECT CASE WHEN s.ended_at IS NULL THEN 'running' ELSE coalesce(s.class, 'ended') END
          FROM fleet_status s WHERE s.host_id = l.host AND s.db_epoch = l.epoch AND s.program_id = l.program_id) AS state,
       (SELECT string_agg(x::text, ',' ORDER BY x) FROM unnest(l.workers) x) AS workers
FROM done l
ORDER BY l.crashes DESC, l.program, l.host;
