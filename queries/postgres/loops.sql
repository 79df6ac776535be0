-- loops (fleet): the twin of queries/loops.sql per host (docs/FLEET.md). A program (or pool: its workers
-- count together) is in a loop when at least $6 crashes fall inside one sliding window of $5 ms in the
-- range; a crash belongs to the loop when some run of $6 consecutive crashes that holds it spans at most
-- $5 ms (HistReports CrashLoopAggregate, here with window functions). Crashes are the rows of crashes.sql.
-- Parameters: $1 since, $2 until (ms UTC); $3 program names (text[], '{}' all); $4 host ids (text[], '{}'
-- all); $5 window_ms; $6 min_crashes.
-- Columns: host, then those of the local report; state is the fleet status state (queries/postgres/status.sql).
-- Plan, as the local report's but with finer spans: when the window and count are loop_hours' (10 min,
-- 3), the whole 10-minute spans that lie at least one window inside the range, [loop_from, loop_until),
-- come from the rollups (central migrations 0004 and 0006: exact, the members over each host's whole
-- history; one window inside the range that is the same as within the range, since a crash's membership
-- depends only on the crashes within one window of it): the whole UTC 6-hour spans among them, [six_from,
-- six_until), and the 10-minute spans outside the whole hours, [loop_from, hour_from) and [hour_until,
-- loop_until), from loop_spans; the hours between, from loop_hours. The edges come from raw rows, [since,
-- loop_from + W) and [loop_until - W, until), where the rows inside [loop_from, loop_until) are context
-- only. Otherwise loop_from = loop_until = until and every crash of the range is read raw. Reading and
-- ordering every crash of a day over 100 hosts took ~3 s by itself, and edges of up to an hour and a
-- window each two thirds of a second (BENCHMARKS.md). Each loop's longest restart delay and gave_up come
-- from program_hours for its whole hours, and from events only for the partial hours at its ends.
WITH
hrs AS MATERIALIZED (
    SELECT loop_from, loop_until, hour_from, hour_until,
           CASE WHEN sf < su THEN sf ELSE hour_until END AS six_from, CASE WHEN sf < su THEN su ELSE hour_until END AS six_until
    FROM (SELECT loop_from, loop_until, hour_from, hour_until,
                 -- hour_from rounded up to whole 6 hours, hour_until down.
                 hour_from + (21600000 - hour_from % 21600000) % 21600000 AS sf, hour_until - hour_until % 21600000 AS su
          FROM (SELECT loop_from, loop_until,
                       CASE WHEN hf < hu THEN hf ELSE loop_until END AS hour_from, CASE WHEN hf < hu THEN hu ELSE loop_until END AS hour_until
                FROM (SELECT loop_from, loop_until,
                             -- loop_from rounded up to a whole hour, loop_until down.
                             loop_from + (3600000 - loop_from % 3600000) % 3600000 AS hf, loop_until - loop_until % 3600000 AS hu
                      FROM (SELECT CASE WHEN ok THEN sf ELSE $2::bigint END AS loop_from, CASE WHEN ok THEN su ELSE $2::bigint END AS loop_until
                            FROM (SELECT sf, su, ($5::bigint = 600000 AND $6::int = 3 AND sf > 0 AND sf < su) AS ok
                                  -- sf: lo rounded up to whole 10 minutes, su: hi rounded down (HistReports
                                  -- ReportScope.wholeHours' arithmetic); clamped so that one window either side cannot overflow.
                                  FROM (SELECT lo + (600000 - ((lo % 600000) + 600000) % 600000) % 600000 AS sf,
                                               hi - ((hi % 600000) + 600000) % 600000 AS su
                                        FROM (SELECT greatest($1::bigint, -4611686018427387904) + 600000 AS lo,
                                                     least($2::bigint, 4611686018427387904) - 600000 AS hi) r) x) y) z) w) v) u
),
-- The raw edges as two ranges, disjoint, the second empty when nothing comes from the rollups.
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
-- Per host, epoch, program and worker slot: the raw members, and the rollups' 6-hour spans, hours and
-- 10-minute spans (primary-key ranges).
slots AS MATERIALIZED (
    SELECT host, epoch, program_id, worker, count(*) AS crashes, min(ts) AS first, max(ts) AS last, max(uptime_ms) AS up
    FROM members GROUP BY host, epoch, program_id, worker
    UNION ALL
    SELECT h.host_id, h.db_epoch, h.program_id, h.worker, sum(h.members)::bigint, min(h.first_ms), max(h.last_ms), max(h.longest_uptime_ms)
    FROM loop_hours h
    WHERE ((h.hour >= (SELECT hour_from FROM hrs) AND h.hour < (SELECT six_from FROM hrs))
           OR (h.hour >= (SELECT six_until FROM hrs) AND h.hour < (SELECT hour_until FROM hrs)))
      AND (cardinality($4::text[]) = 0 OR h.host_id = ANY($4::text[]))
    GROUP BY h.host_id, h.db_epoch, h.program_id, h.worker
    UNION ALL
    SELECT s.host_id, s.db_epoch, s.program_id, s.worker, sum(s.members)::bigint, min(s.first_ms), max(s.last_ms), max(s.longest_uptime_ms)
    FROM loop_spans s
    WHERE ((s.span_ms = 21600000 AND s.start_ms >= (SELECT six_from FROM hrs) AND s.start_ms < (SELECT six_until FROM hrs))
           OR (s.span_ms = 600000 AND s.start_ms >= (SELECT loop_from FROM hrs) AND s.start_ms < (SELECT hour_from FROM hrs))
           OR (s.span_ms = 600000 AND s.start_ms >= (SELECT hour_until FROM hrs) AND s.start_ms < (SELECT loop_until FROM hrs)))
      AND (cardinality($4::text[]) = 0 OR s.host_id = ANY($4::text[]))
    GROUP BY s.host_id, s.db_epoch, s.program_id, s.worker
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
-- The longest restart delay scheduled in each loop's span [first, last + 5 s], per loop (correlated, so
-- that no join of CTEs rests on their row estimates, which are guesses: a nested loop of 5,000 loops by
-- 5,000 whole-hour maxima once took 2.7 s). With h0 and hn the hours of first and of last + 5 s: the
-- whole hours between them from program_hours; then the partial hours h0 and hn (the same one twice when
-- the span lies in one hour, which max does not mind), read from events only where that hour's
-- program_hours maximum is larger than the whole hours' (else no event of it can raise the answer).
done AS (
    SELECT l.*, greatest(w.d, e.d) AS d
    FROM loops l
    CROSS JOIN LATERAL (SELECT l.first - l.first % 3600000 AS h0, (l.last + 5000) - (l.last + 5000) % 3600000 AS hn) b
    CROSS JOIN LATERAL (SELECT max(ph.max_restart_delay_ms) AS d FROM program_hours ph
                        WHERE ph.host_id = l.host AND ph.db_epoch = l.epoch AND ph.program_id = l.program_id
                          AND ph.hour >= b.h0 + 3600000 AND ph.hour < b.hn) w
    CROSS JOIN LATERAL (SELECT max(r.value) AS d
                        FROM (VALUES (b.h0, l.first, least(l.last + 5000, b.h0 + 3599999)),
                                     (b.hn, greatest(l.first, b.hn), l.last + 5000)) AS x(hour, lo, hi)
                        JOIN program_hours ph ON ph.host_id = l.host AND ph.db_epoch = l.epoch AND ph.program_id = l.program_id
                                             AND ph.hour = x.hour AND ph.max_restart_delay_ms > coalesce(w.d, -1)
                        JOIN events r ON r.host_id = l.host AND r.db_epoch = l.epoch AND r.program_id = l.program_id
                                     AND r.kind = 4 AND r.ts >= x.lo AND r.ts <= x.hi) e
)
SELECT l.host AS host, l.program AS program, l.crashes AS crashes, l.first AS first, l.last AS last,
       round(l.longest_uptime_ms / 1000.0, 3)::float8 AS longest_uptime_s,
       l.d / 1000.0::float8 AS max_restart_delay_s,
       -- A gave_up event in [first, until): the hours program_hours counts one in, and events only for an
       -- hour that lies partly outside (a day of events per probe is a partition each; the hours are one
       -- index range).
       EXISTS (SELECT 1 FROM program_hours ph
               WHERE ph.host_id = l.host AND ph.db_epoch = l.epoch AND ph.program_id = l.program_id
                 AND ph.hour >= l.first - l.first % 3600000 AND ph.hour < $2 AND ph.gave_ups > 0
                 AND ((ph.hour >= l.first AND ph.hour <= $2 - 3600000)
                      OR EXISTS (SELECT 1 FROM events g
                                 WHERE g.kind = 5 AND g.ts >= greatest(l.first, ph.hour) AND g.ts < least($2, ph.hour + 3600000)
                                   AND g.host_id = l.host AND g.db_epoch = l.epoch AND g.program_id = l.program_id)))::int AS gave_up,
       (SELECT CASE WHEN s.ended_at IS NULL THEN 'running' ELSE coalesce(s.class, 'ended') END
          FROM fleet_status s WHERE s.host_id = l.host AND s.db_epoch = l.epoch AND s.program_id = l.program_id) AS state,
       (SELECT string_agg(x::text, ',' ORDER BY x) FROM unnest(l.workers) x) AS workers
FROM done l
ORDER BY l.crashes DESC, l.program, l.host;
