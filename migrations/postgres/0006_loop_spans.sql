-- 0006_loop_spans: the crash-loop members of 0004's loop_hours, also per 10 minutes and per 6 hours, so
-- that fleet `loops` reads a day as a few 6-hour spans, a few hours and a few 10-minute spans per program
-- and pool worker slot, and raw crashes only for the last minutes at each edge of its range (docs/FLEET.md,
-- "The central schema"). Applied by histd-ship or `histctl fleet migrate`. Never edit once landed.
--
-- Why: with whole hours only, each edge of a range was up to an hour and a window of counted crashes plus
-- a window of context, read raw, sorted and run through two window passes; over 100 hosts x 1 day that was
-- 178,800 of the day's 1.9 M crashes and two thirds of the report's time (BENCHMARKS.md). With 10-minute
-- spans an edge is at most 10 minutes and a window counted, plus a window of context; the 6-hour spans
-- halve the rollup rows a day reads.
--
-- loop_spans holds what loop_hours holds (crashes in a loop by `loops`' default definition, over the
-- host's whole central history of that epoch), per span of 10 minutes or 6 hours of the crash time
-- (start_ms = ts - ts % span_ms: 6-hour spans start at 00, 06, 12 and 18 UTC) instead of per hour; an
-- hour is the union of its six 10-minute spans, and a 6-hour span of its six hours. It is kept exact by
-- the functions 0004's triggers call, replaced below so that each statement computes its members once,
-- per 10-minute span, and adds (or recomputes) every level from them:
-- - loop_hours_add: the new members grouped by 10-minute span are added to those spans, and the same
--   groups summed per hour and per 6 hours to loop_hours and to the 6-hour spans;
-- - loop_hours_recompute: the named hours and their 10-minute spans are deleted and computed again from
--   the raw rows, then the 6-hour spans that hold them are rolled up again from loop_hours.
-- The membership arithmetic itself is 0004's, unchanged.
--
-- No (host, epoch, program) index: only loop_hours_recompute (corrections, deletes, operator effects and
-- fleet_rollups_recompute, never shipping's inserts) deletes by program, and it bounds that by the
-- primary key's span and time range; an index would cost every shipped batch.

-- The writers wait until this migration commits: no crash lands between the fill below and the functions
-- that keep the new table (0004's triggers do not change, so nothing else would lock them out).
LOCK TABLE instances, events, operator_effects IN SHARE MODE;

CREATE TABLE loop_spans (
    span_ms            bigint NOT NULL,   -- 600000 (10 minutes) or 21600000 (6 hours)
    start_ms           bigint NOT NULL,   -- ts - ts % span_ms of the crash (instances.ended_at, events.ts)
    host_id            text   NOT NULL,
    db_epoch           text   NOT NULL,
    program_id         bigint NOT NULL,   -- programs.id (per host and epoch)
    worker             bigint NOT NULL,   -- pool worker slot, -1 for a plain program
    members            bigint NOT NULL,   -- crashes in the span that are in a loop
    first_ms           bigint NOT NULL,   -- the earliest of them
    last_ms            bigint NOT NULL,   -- the latest of them
    longest_uptime_ms  bigint,            -- the longest uptime among them (NULL: only spawn failures)
    PRIMARY KEY (span_ms, start_ms, host_id, db_epoch, program_id, worker)
);

-- 0004's loop_hours_add (its comment there explains the bounds), with the members grouped by 10-minute
-- span and added to every level. Restated whole, not edited in place: 0004 is landed and frozen, and a
-- replaced function's body is one statement (its plan is kept per session; see 0004).
CREATE OR REPLACE FUNCTION loop_hours_add(hosts text[], epochs text[], kinds int[], ids bigint[], programs bigint[], times bigint[])
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    WITH n AS (SELECT * FROM unnest(hosts, epochs, kinds, ids, programs, times) AS n(host_id, db_epoch, kind, id, program_id, ts)),
    span AS (SELECT host_id, db_epoch, program_id, min(ts) AS a, max(ts) AS b FROM n GROUP BY 1, 2, 3),
    bounds AS (
        SELECT s.host_id, s.db_epoch, s.program_id,
               greatest(s.a - 1200000, coalesce(lo.t4, s.a - 1200000)) AS lo, greatest(s.a - 600000, coalesce(lo.t2, s.a - 600000)) AS p,
               least(s.b + 1200000, coalesce(hi.t4, s.b + 1200000)) AS hi, least(s.b + 600000, coalesce(hi.t2, s.b + 600000)) AS q
        FROM span s
        CROSS JOIN LATERAL (SELECT array_agg(DISTINCT nb.ts ORDER BY nb.ts) FILTER (WHERE nb.side = -1) AS lv,
                                   array_agg(DISTINCT nb.ts ORDER BY nb.ts) FILTER (WHERE nb.side = 1) AS hv
                            FROM loop_neighbours(s.host_id, s.db_epoch, s.program_id, s.a, s.b) nb) v
        CROSS JOIN LATERAL (SELECT v.lv[cardinality(v.lv) - 1] AS t2, v.lv[cardinality(v.lv) - 3] AS t4) lo
        CROSS JOIN LATERAL (SELECT v.hv[2] AS t2, v.hv[4] AS t4) hi
    ),
    c AS (
        SELECT t.host_id, t.db_epoch, t.kind, t.id, bool_or(t.mark) AS is_new,
               max(t.program_id) FILTER (WHERE NOT t.mark) AS program_id, max(t.ts) FILTER (WHERE NOT t.mark) AS ts,
               max(t.worker) FILTER (WHERE NOT t.mark) AS worker, max(t.uptime_ms) FILTER (WHERE NOT t.mark) AS uptime_ms,
               max(t.p) FILTER (WHERE NOT t.mark) AS p, max(t.q) FILTER (WHERE NOT t.mark) AS q
        FROM (SELECT c.host_id, c.db_epoch, c.kind, c.id, false AS mark, c.program_id, c.ts, c.worker, c.uptime_ms, c.p, c.q
              FROM (SELECT array_agg(host_id) AS h, array_agg(db_epoch) AS e, array_agg(program_id) AS pr,
                           array_agg(lo) AS lo, array_agg(hi + 1) AS hi, array_agg(p) AS p, array_agg(q) AS q FROM bounds) z
              CROSS JOIN LATERAL loop_crashes(z.h, z.e, z.pr, z.lo, z.hi, z.p, z.q) c
              UNION ALL
              SELECT x.host_id, x.db_epoch, x.kind, x.id, true, NULL, NULL, NULL, NULL, NULL, NULL FROM n x) t
        GROUP BY t.host_id, t.db_epoch, t.kind, t.id
        HAVING bool_or(NOT t.mark)
    ),
    m AS (
        SELECT c.*, lag(ts, 2) OVER w AS b2, lag(ts, 1) OVER w AS b1, lead(ts, 1) OVER w AS a1, lead(ts, 2) OVER w AS a2,
               lag(ts, 2) OVER v AS ob2, lag(ts, 1) OVER v AS ob1, lead(ts, 1) OVER v AS oa1, lead(ts, 2) OVER v AS oa2
        FROM c
        WINDOW w AS (PARTITION BY host_id, db_epoch, program_id ORDER BY ts),
               v AS (PARTITION BY host_id, db_epoch, program_id, is_new ORDER BY ts)
    ),
    -- The crashes that became members, per span (each key once: one UPSERT may not touch a row twice).
    g AS (
        SELECT host_id, db_epoch, ts - ts % 600000 AS start_ms, program_id, worker, count(*) AS members, min(ts) AS first_ms,
               max(ts) AS last_ms, max(uptime_ms) AS longest_uptime_ms
        FROM m
        WHERE ts >= p AND ts <= q
          AND coalesce(a2 - ts <= 600000 OR a1 - b1 <= 600000 OR ts - b2 <= 600000, false)
          AND (is_new OR NOT coalesce(oa2 - ts <= 600000 OR oa1 - ob1 <= 600000 OR ts - ob2 <= 600000, false))
        GROUP BY 1, 2, 3, 4, 5
    ),
    spans AS (
        INSERT INTO loop_spans AS l (span_ms, start_ms, host_id, db_epoch, program_id, worker, members, first_ms, last_ms, longest_uptime_ms)
        SELECT 600000, start_ms, host_id, db_epoch, program_id, worker, members, first_ms, last_ms, longest_uptime_ms FROM g
        UNION ALL
        SELECT 21600000, start_ms - start_ms % 21600000, host_id, db_epoch, program_id, worker, sum(members)::bigint, min(first_ms),
               max(last_ms), max(longest_uptime_ms)
        FROM g GROUP BY 2, 3, 4, 5, 6
        ON CONFLICT (span_ms, start_ms, host_id, db_epoch, program_id, worker) DO UPDATE
           SET members = l.members + EXCLUDED.members, first_ms = least(l.first_ms, EXCLUDED.first_ms),
               last_ms = greatest(l.last_ms, EXCLUDED.last_ms),
               longest_uptime_ms = greatest(l.longest_uptime_ms, EXCLUDED.longest_uptime_ms)
    )
    INSERT INTO loop_hours AS l (host_id, db_epoch, hour, program_id, worker, members, first_ms, last_ms, longest_uptime_ms)
    SELECT host_id, db_epoch, start_ms - start_ms % 3600000, program_id, worker, sum(members)::bigint, min(first_ms), max(last_ms),
           max(longest_uptime_ms)
    FROM g
    GROUP BY 1, 2, 3, 4, 5
    ON CONFLICT (hour, host_id, db_epoch, program_id, worker) DO UPDATE
       SET members = l.members + EXCLUDED.members, first_ms = least(l.first_ms, EXCLUDED.first_ms),
           last_ms = greatest(l.last_ms, EXCLUDED.last_ms),
           longest_uptime_ms = greatest(l.longest_uptime_ms, EXCLUDED.longest_uptime_ms);
END $$;

-- 0004's loop_hours_recompute (its comment there explains the context), for every level: the 10-minute
-- spans of the named hours are those whose hour is between the first and last named one (a superset of
-- their starts for the index, then the exact hour: ts % 3600000 rounds toward zero before 1970).
CREATE OR REPLACE FUNCTION loop_hours_recompute(hosts text[], epochs text[], programs bigint[], hours bigint[]) RETURNS void
LANGUAGE sql AS $$
    DELETE FROM loop_hours l
    USING (SELECT host_id, db_epoch, program_id, min(hour) AS h1, max(hour) AS h2
           FROM unnest(hosts, epochs, programs, hours) AS s(host_id, db_epoch, program_id, hour) GROUP BY 1, 2, 3) s
    WHERE l.host_id = s.host_id AND l.db_epoch = s.db_epoch AND l.program_id = s.program_id AND l.hour >= s.h1 AND l.hour <= s.h2;
    DELETE FROM loop_spans l
    USING (SELECT host_id, db_epoch, program_id, min(hour) AS h1, max(hour) AS h2
           FROM unnest(hosts, epochs, programs, hours) AS s(host_id, db_epoch, program_id, hour) GROUP BY 1, 2, 3) s
    WHERE l.span_ms = 600000 AND l.start_ms > s.h1 - 3600000 AND l.start_ms < s.h2 + 3600000
      AND l.host_id = s.host_id AND l.db_epoch = s.db_epoch AND l.program_id = s.program_id
      AND l.start_ms - l.start_ms % 3600000 >= s.h1 AND l.start_ms - l.start_ms % 3600000 <= s.h2;
    WITH z AS (
        SELECT array_agg(host_id) AS h, array_agg(db_epoch) AS e, array_agg(program_id) AS pr,
               array_agg(h1 - 3600000 - 1200000) AS lo, array_agg(h2 + 3600000 + 1200000) AS hi, array_agg(h1) AS p, array_agg(h2) AS q
        FROM (SELECT host_id, db_epoch, program_id, min(hour) AS h1, max(hour) AS h2
              FROM unnest(hosts, epochs, programs, hours) AS s(host_id, db_epoch, program_id, hour) GROUP BY 1, 2, 3) g
    ),
    m AS (
        SELECT c.*, lag(c.ts, 2) OVER w AS b2, lag(c.ts, 1) OVER w AS b1, lead(c.ts, 1) OVER w AS a1, lead(c.ts, 2) OVER w AS a2
        FROM z CROSS JOIN LATERAL loop_crashes(z.h, z.e, z.pr, z.lo, z.hi, z.p, z.q) c
        WINDOW w AS (PARTITION BY c.host_id, c.db_epoch, c.program_id ORDER BY c.ts)
    ),
    g AS (
        SELECT m.host_id, m.db_epoch, m.ts - m.ts % 600000 AS start_ms, m.program_id, m.worker, count(*) AS members,
               min(m.ts) AS first_ms, max(m.ts) AS last_ms, max(m.uptime_ms) AS longest_uptime_ms
        FROM m
        WHERE m.ts - m.ts % 3600000 >= m.p AND m.ts - m.ts % 3600000 <= m.q
          AND coalesce(m.a2 - m.ts <= 600000 OR m.a1 - m.b1 <= 600000 OR m.ts - m.b2 <= 600000, false)
        GROUP BY 1, 2, 3, 4, 5
    ),
    spans AS (
        INSERT INTO loop_spans (span_ms, start_ms, host_id, db_epoch, program_id, worker, members, first_ms, last_ms, longest_uptime_ms)
        SELECT 600000, start_ms, host_id, db_epoch, program_id, worker, members, first_ms, last_ms, longest_uptime_ms FROM g
    )
    INSERT INTO loop_hours (host_id, db_epoch, hour, program_id, worker, members, first_ms, last_ms, longest_uptime_ms)
    SELECT host_id, db_epoch, start_ms - start_ms % 3600000, program_id, worker, sum(members)::bigint, min(first_ms), max(last_ms),
           max(longest_uptime_ms)
    FROM g
    GROUP BY 1, 2, 3, 4, 5;
    -- The 6-hour spans holding the named hours, rolled up again from loop_hours (exact now for every hour).
    DELETE FROM loop_spans l
    USING (SELECT host_id, db_epoch, program_id, min(hour) AS h1, max(hour) AS h2
           FROM unnest(hosts, epochs, programs, hours) AS s(host_id, db_epoch, program_id, hour) GROUP BY 1, 2, 3) s
    WHERE l.span_ms = 21600000 AND l.start_ms >= s.h1 - s.h1 % 21600000 AND l.start_ms <= s.h2 - s.h2 % 21600000
      AND l.host_id = s.host_id AND l.db_epoch = s.db_epoch AND l.program_id = s.program_id;
    INSERT INTO loop_spans (span_ms, start_ms, host_id, db_epoch, program_id, worker, members, first_ms, last_ms, longest_uptime_ms)
    SELECT 21600000, h.hour - h.hour % 21600000, h.host_id, h.db_epoch, h.program_id, h.worker, sum(h.members)::bigint, min(h.first_ms),
           max(h.last_ms), max(h.longest_uptime_ms)
    FROM (SELECT host_id, db_epoch, program_id, min(hour) AS h1, max(hour) AS h2
          FROM unnest(hosts, epochs, programs, hours) AS s(host_id, db_epoch, program_id, hour) GROUP BY 1, 2, 3) s
    JOIN loop_hours h ON h.host_id = s.host_id AND h.db_epoch = s.db_epoch AND h.program_id = s.program_id
     -- A superset of the 6-hour spans' hours for the index (loop_hours_program), then the exact spans.
     AND h.hour > s.h1 - s.h1 % 21600000 - 21600000 AND h.hour < s.h2 - s.h2 % 21600000 + 21600000
     AND h.hour - h.hour % 21600000 >= s.h1 - s.h1 % 21600000 AND h.hour - h.hour % 21600000 <= s.h2 - s.h2 % 21600000
    GROUP BY 2, 3, 4, 5, 6;
$$;

-- The rows for what is central already: the recompute itself (so the fill is not a second copy of the
-- arithmetic), over every program's hours from its first crash to its last.
SELECT loop_hours_recompute(array_agg(host_id), array_agg(db_epoch), array_agg(program_id), array_agg(ts - ts % 3600000))
FROM (SELECT r.host_id, r.db_epoch, r.program_id, v.ts
      FROM (SELECT host_id, db_epoch, program_id, min(ended_at) AS first, max(ended_at) AS last
            FROM instances WHERE class IN ('crash', 'limit') AND ended_at IS NOT NULL GROUP BY 1, 2, 3
            UNION ALL
            SELECT host_id, db_epoch, program_id, min(ts), max(ts)
            FROM events WHERE kind = 9 AND program_id IS NOT NULL GROUP BY 1, 2, 3) r
      CROSS JOIN LATERAL (VALUES (r.first), (r.last)) AS v(ts)) x
HAVING count(*) > 0;
