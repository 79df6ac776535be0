-- 0004_loop_hours: the central twins of the local loop_hours and program_hours rollups (local migration
-- 0011), so that fleet `loops` reads the whole hours of its range from them and raw rows only at the
-- edges, as the local report does (docs/FLEET.md, "The central schema"). Applied by histd-ship or
-- `histctl fleet migrate`. Never edit once landed.
--
-- loop_hours holds, per host, epoch, UTC hour of the crash time, program and pool worker slot, the crashes
-- that are in a crash loop by `loops`' default definition (at least 3 crashes inside one sliding window of
-- 10 minutes; a pool's workers count together), over the host's whole central history of that epoch. A
-- crash is what queries/postgres/loops.sql counts: an instance that ended as a crash or a limit kill, less
-- the ends an operator caused (an operator_effects 'ended' row), and a spawn_failed event (kind 9). These
-- are the rows the host's local loop_hours holds.
-- program_hours holds, per host, epoch, program and UTC hour, its start (1), restart_scheduled (4) and gave_up (5)
-- events and the longest restart delay scheduled (the largest restart_scheduled value).
--
-- Both are derived from the raw central rows and kept exact by the statement triggers below, in the
-- transaction that changes those rows, whichever histd-ship version (or hand-made INSERT ... SELECT)
-- writes them:
-- - Added crashes (new instance rows that count, updated rows that start to count, spawn_failed events)
--   can only add members: a crash is a member when some window of 10 minutes holds it and 2 more, and
--   another crash never takes such a window away. So per program the statement's new crashes, the old
--   ones between them, and the few old ones beside them whose two nearest neighbours on a side the new
--   ones could be (loop_hours_add: bounded by count, not by time, so a program crashing every 200 ms
--   reads about a dozen of its rows per statement, not the 20 minutes around them) are evaluated before
--   and after, and the crashes that became members are added to their hours.
-- - Anything else (a crash that stops counting, moves in time or to another program or slot, is deleted,
--   or gets or loses an operator 'ended' effect; a spawn_failed event deleted or changed) recomputes the
--   hours within one window of it from the raw rows (loop_hours_recompute).
-- - program_hours: events are only added by histd-ship (ON CONFLICT DO NOTHING), so an insert adds its
--   counts and maximum per hour; a deleted or updated event recomputes its (program, hour).
-- Retention by dropping a day of events (`DROP TABLE events_20261101`) fires no trigger: recompute that
-- day afterwards with `SELECT fleet_rollups_recompute(from_ms, until_ms)` (docs/FLEET.md).

-- Each program's crashes in time order (the membership windows and the bounded neighbour lookups).
CREATE INDEX instances_program_crashes ON instances (host_id, db_epoch, program_id, ended_at)
    WHERE class IN ('crash', 'limit');

CREATE TABLE loop_hours (
    host_id            text   NOT NULL,
    db_epoch           text   NOT NULL,
    hour               bigint NOT NULL,   -- ts - ts % 3600000 of the crash (instances.ended_at, events.ts)
    program_id         bigint NOT NULL,   -- programs.id (per host and epoch)
    worker             bigint NOT NULL,   -- pool worker slot, -1 for a plain program
    members            bigint NOT NULL,   -- crashes in this hour that are in a loop
    first_ms           bigint NOT NULL,   -- the earliest of them
    last_ms            bigint NOT NULL,   -- the latest of them
    longest_uptime_ms  bigint,            -- the longest uptime among them (NULL: only spawn failures)
    PRIMARY KEY (hour, host_id, db_epoch, program_id, worker)
);

-- Each program's hours in order: loop_hours_recompute deletes a range of them.
CREATE INDEX loop_hours_program ON loop_hours (host_id, db_epoch, program_id, hour);

CREATE TABLE program_hours (
    host_id               text   NOT NULL,
    db_epoch              text   NOT NULL,
    program_id            bigint NOT NULL,   -- programs.id (per host and epoch)
    hour                  bigint NOT NULL,   -- ts - ts % 3600000 of the events
    starts                bigint NOT NULL,   -- events of kind start (1)
    restarts              bigint NOT NULL,   -- events of kind restart_scheduled (4)
    gave_ups              bigint NOT NULL,   -- events of kind gave_up (5)
    max_restart_delay_ms  bigint,            -- the largest restart_scheduled value; NULL when restarts = 0
    PRIMARY KEY (host_id, db_epoch, program_id, hour)
);

-- A spawn_failed event's pool worker slot (-1: none). Never an error: a trigger that failed on one odd
-- detail would refuse every batch after it, and shipping would stop.
CREATE FUNCTION loop_worker(detail text) RETURNS bigint LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    RETURN coalesce((detail::jsonb ->> 'worker_index')::bigint, -1);
EXCEPTION WHEN others THEN
    RETURN -1;
END $$;

-- The crashes of each (host, epoch, program) slice with lo <= ts < hi (one slice per program: the callers
-- group), from both sources; kind 0 an instance, 9 a spawn_failed event, with its id there; p and q are
-- the slice's own, carried through so that no caller joins the crashes back to its slices: every array
-- here may hold 1 or 2 million entries (a bulk copy), and a plan made for a few would then be quadratic.
CREATE FUNCTION loop_crashes(hosts text[], epochs text[], programs bigint[], los bigint[], his bigint[], ps bigint[], qs bigint[])
RETURNS TABLE (host_id text, db_epoch text, program_id bigint, ts bigint, worker bigint, uptime_ms bigint, kind int, id bigint,
               p bigint, q bigint)
LANGUAGE sql STABLE AS $$
    SELECT i.host_id, i.db_epoch, i.program_id, i.ended_at, coalesce(i.worker_index, -1), i.uptime_ms, 0, i.id, s.p, s.q
    FROM unnest(hosts, epochs, programs, los, his, ps, qs) AS s(host_id, db_epoch, program_id, lo, hi, p, q)
    JOIN instances i ON i.host_id = s.host_id AND i.db_epoch = s.db_epoch AND i.program_id = s.program_id
                    AND i.class IN ('crash', 'limit') AND i.ended_at >= s.lo AND i.ended_at < s.hi
    WHERE NOT EXISTS (SELECT 1 FROM operator_effects f WHERE f.host_id = i.host_id AND f.db_epoch = i.db_epoch
                                                       AND f.instance_id = i.id AND f.effect = 'ended')
    UNION ALL
    SELECT e.host_id, e.db_epoch, e.program_id, e.ts, loop_worker(e.detail), NULL, 9, e.id, s.p, s.q
    FROM unnest(hosts, epochs, programs, los, his, ps, qs) AS s(host_id, db_epoch, program_id, lo, hi, p, q)
    JOIN events e ON e.host_id = s.host_id AND e.db_epoch = s.db_epoch AND e.program_id = s.program_id
                 AND e.kind = 9 AND e.ts >= s.lo AND e.ts < s.hi
$$;

-- The up to 4 crashes of a program nearest before `before` (ts < before) and after `after` (ts > after),
-- from each source (so up to 8 a side), within 2 windows (farther ones do not matter to loop_hours_add,
-- and the bound prunes events to the partitions of those days): what loop_hours_add bounds its reads by.
CREATE FUNCTION loop_neighbours(host text, epoch text, program bigint, before bigint, after bigint)
RETURNS TABLE (ts bigint, side int) LANGUAGE sql STABLE AS $$
    (SELECT i.ended_at, -1 FROM instances i
     WHERE i.host_id = host AND i.db_epoch = epoch AND i.program_id = program AND i.class IN ('crash', 'limit')
       AND i.ended_at < before AND i.ended_at >= before - 1200000
       AND NOT EXISTS (SELECT 1 FROM operator_effects f WHERE f.host_id = i.host_id AND f.db_epoch = i.db_epoch
                                                          AND f.instance_id = i.id AND f.effect = 'ended')
     ORDER BY i.ended_at DESC LIMIT 4)
    UNION ALL
    (SELECT e.ts, -1 FROM events e
     WHERE e.host_id = host AND e.db_epoch = epoch AND e.program_id = program AND e.kind = 9
       AND e.ts < before AND e.ts >= before - 1200000
     ORDER BY e.ts DESC LIMIT 4)
    UNION ALL
    (SELECT i.ended_at, 1 FROM instances i
     WHERE i.host_id = host AND i.db_epoch = epoch AND i.program_id = program AND i.class IN ('crash', 'limit')
       AND i.ended_at > after AND i.ended_at <= after + 1200000
       AND NOT EXISTS (SELECT 1 FROM operator_effects f WHERE f.host_id = i.host_id AND f.db_epoch = i.db_epoch
                                                          AND f.instance_id = i.id AND f.effect = 'ended')
     ORDER BY i.ended_at LIMIT 4)
    UNION ALL
    (SELECT e.ts, 1 FROM events e
     WHERE e.host_id = host AND e.db_epoch = epoch AND e.program_id = program AND e.kind = 9
       AND e.ts > after AND e.ts <= after + 1200000
     ORDER BY e.ts LIMIT 4)
$$;

-- Adds the crashes that became members when the named crashes (kind 0 instance or 9 event, id, with
-- their program and time) were added; they must be in the tables already (an AFTER trigger's rows).
-- Per program, with [a, b] the new crashes' span: a crash's membership depends on its two nearest
-- neighbours on each side (by time; ties share membership), and only while they are within the window
-- W. So only the old crashes in [a, b] and the two nearest distinct times before a and after b can change
-- (t1 > t2 > ... below a: a crash earlier than t2 still has t2 and t1 between it and every new crash), and
-- only within W of a new one: considered [max(t2, a - W), min(t2', b + W)]. To evaluate those, before
-- and after, the context holds every crash from max(t4, a - 2W) to min(t4', b + 2W): each considered
-- crash then has its two nearest on each side in it, or none within W. The ti come from loop_neighbours'
-- up to 8 rows per side; with ties they may be fewer distinct times, which only lowers t2 and t4 (more
-- context, more crashes considered, the same answer); none found means the time bound alone.
-- PL/pgSQL, not SQL: its statement's plan is kept for the session (histd-ship's one connection), where a
-- SQL function is planned again at every call (43 ms against 26 per statement of ~1,250 crashes of 200
-- programs, histbench ship's crash-loop mix).
CREATE FUNCTION loop_hours_add(hosts text[], epochs text[], kinds int[], ids bigint[], programs bigint[], times bigint[])
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
        -- Both ascending: below a, t1 is lv's last element, t2 the one before, t4 three before; after b,
        -- t1' is hv's first (a subscript out of range is NULL).
        CROSS JOIN LATERAL (SELECT v.lv[cardinality(v.lv) - 1] AS t2, v.lv[cardinality(v.lv) - 3] AS t4) lo
        CROSS JOIN LATERAL (SELECT v.hv[2] AS t2, v.hv[4] AS t4) hi
    ),
    -- The context, each crash once, marked new when n names it: an aggregate over both (a hash join or
    -- a hashed IN would be planned from unnest's estimate of 10 rows, and turns quadratic for a bulk
    -- copy's 2 million; an aggregate is linear at any size).
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
    -- w: every crash (after); v: the old ones apart (before, in the partition where is_new is false).
    m AS (
        SELECT c.*, lag(ts, 2) OVER w AS b2, lag(ts, 1) OVER w AS b1, lead(ts, 1) OVER w AS a1, lead(ts, 2) OVER w AS a2,
               lag(ts, 2) OVER v AS ob2, lag(ts, 1) OVER v AS ob1, lead(ts, 1) OVER v AS oa1, lead(ts, 2) OVER v AS oa2
        FROM c
        WINDOW w AS (PARTITION BY host_id, db_epoch, program_id ORDER BY ts),
               v AS (PARTITION BY host_id, db_epoch, program_id, is_new ORDER BY ts)
    )
    INSERT INTO loop_hours AS l (host_id, db_epoch, hour, program_id, worker, members, first_ms, last_ms, longest_uptime_ms)
    SELECT host_id, db_epoch, ts - ts % 3600000, program_id, worker, count(*), min(ts), max(ts), max(uptime_ms)
    FROM m
    WHERE ts >= p AND ts <= q
      AND coalesce(a2 - ts <= 600000 OR a1 - b1 <= 600000 OR ts - b2 <= 600000, false)
      AND (is_new OR NOT coalesce(oa2 - ts <= 600000 OR oa1 - ob1 <= 600000 OR ts - ob2 <= 600000, false))
    GROUP BY 1, 2, 3, 4, 5
    ON CONFLICT (hour, host_id, db_epoch, program_id, worker) DO UPDATE
       SET members = l.members + EXCLUDED.members, first_ms = least(l.first_ms, EXCLUDED.first_ms),
           last_ms = greatest(l.last_ms, EXCLUDED.last_ms),
           longest_uptime_ms = greatest(l.longest_uptime_ms, EXCLUDED.longest_uptime_ms);
END $$;

-- Recomputes the named (host, epoch, program, hour) slices from the raw rows, and with them every hour of
-- that program between its first and last named one (exact too, and it needs no join of the crashes with
-- the names: see loop_crashes): each program's crashes from one hour and one window before its first named
-- hour to as much after its last (more context than the membership needs is harmless; a bucket is
-- [hour, hour + 1 h) from 1970 on, (hour - 1 h, hour] before: ts % 3600000 rounds toward zero).
CREATE FUNCTION loop_hours_recompute(hosts text[], epochs text[], programs bigint[], hours bigint[]) RETURNS void
LANGUAGE sql AS $$
    DELETE FROM loop_hours l
    USING (SELECT host_id, db_epoch, program_id, min(hour) AS h1, max(hour) AS h2
           FROM unnest(hosts, epochs, programs, hours) AS s(host_id, db_epoch, program_id, hour) GROUP BY 1, 2, 3) s
    WHERE l.host_id = s.host_id AND l.db_epoch = s.db_epoch AND l.program_id = s.program_id AND l.hour >= s.h1 AND l.hour <= s.h2;
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
    )
    INSERT INTO loop_hours (host_id, db_epoch, hour, program_id, worker, members, first_ms, last_ms, longest_uptime_ms)
    SELECT m.host_id, m.db_epoch, m.ts - m.ts % 3600000, m.program_id, m.worker, count(*), min(m.ts), max(m.ts), max(m.uptime_ms)
    FROM m
    WHERE m.ts - m.ts % 3600000 >= m.p AND m.ts - m.ts % 3600000 <= m.q
      AND coalesce(m.a2 - m.ts <= 600000 OR m.a1 - m.b1 <= 600000 OR m.ts - m.b2 <= 600000, false)
    GROUP BY 1, 2, 3, 4, 5;
$$;

-- The hours whose members a crash at `ts` can change: those within one window of it.
CREATE FUNCTION loop_hours_near(ts bigint) RETURNS bigint[] LANGUAGE sql IMMUTABLE AS $$
    SELECT ARRAY[(ts - 600000) - (ts - 600000) % 3600000, ts - ts % 3600000, (ts + 600000) - (ts + 600000) % 3600000]
$$;

-- Recomputes the hours within one window of the named crashes (host, epoch, program, time).
CREATE FUNCTION loop_hours_recompute_near(hosts text[], epochs text[], programs bigint[], times bigint[]) RETURNS void
LANGUAGE sql AS $$
    SELECT loop_hours_recompute(array_agg(host_id), array_agg(db_epoch), array_agg(program_id), array_agg(hour))
    FROM (SELECT DISTINCT s.host_id, s.db_epoch, s.program_id, hr.hour
          FROM unnest(hosts, epochs, programs, times) AS s(host_id, db_epoch, program_id, ts)
          CROSS JOIN LATERAL unnest(loop_hours_near(s.ts)) AS hr(hour)) d
    HAVING count(*) > 0;
$$;

-- Recomputes the named (host, epoch, program, hour) slices of program_hours from the events.
CREATE FUNCTION program_hours_recompute(hosts text[], epochs text[], programs bigint[], hours bigint[]) RETURNS void
LANGUAGE sql AS $$
    DELETE FROM program_hours ph
    USING unnest(hosts, epochs, programs, hours) AS s(host_id, db_epoch, program_id, hour)
    WHERE ph.host_id = s.host_id AND ph.db_epoch = s.db_epoch AND ph.program_id = s.program_id AND ph.hour = s.hour;
    INSERT INTO program_hours (host_id, db_epoch, program_id, hour, starts, restarts, gave_ups, max_restart_delay_ms)
    SELECT e.host_id, e.db_epoch, e.program_id, s.hour, count(*) FILTER (WHERE e.kind = 1), count(*) FILTER (WHERE e.kind = 4),
           count(*) FILTER (WHERE e.kind = 5), max(e.value) FILTER (WHERE e.kind = 4)
    FROM (SELECT DISTINCT * FROM unnest(hosts, epochs, programs, hours) AS u(host_id, db_epoch, program_id, hour)) s
    JOIN events e ON e.host_id = s.host_id AND e.db_epoch = s.db_epoch AND e.program_id = s.program_id AND e.kind IN (1, 4, 5)
     -- A superset for the index (events_program), then the exact bucket.
     AND e.ts > s.hour - 3600000 AND e.ts < s.hour + 3600000 AND e.ts - e.ts % 3600000 = s.hour
    GROUP BY 1, 2, 3, 4;
$$;

-- New instance rows: the crashes among them are added.
CREATE FUNCTION loop_hours_instances_insert() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE h text[]; e text[]; k int[]; i bigint[]; p bigint[]; t bigint[];
BEGIN
    SELECT array_agg(host_id), array_agg(db_epoch), array_agg(0), array_agg(id), array_agg(program_id), array_agg(ended_at)
      INTO h, e, k, i, p, t
    FROM new_rows WHERE class IN ('crash', 'limit') AND ended_at IS NOT NULL;
    IF h IS NOT NULL THEN PERFORM loop_hours_add(h, e, k, i, p, t); END IF;
    RETURN NULL;
END $$;

-- Updated instance rows: each row's crash before (-1) and after (+1), summed per instance and what the
-- membership reads of it (a hash aggregate, no join of the two transition tables: crash_hours' lesson in
-- 0003). The same crash again cancels. When every change is a crash that starts to count, they are
-- added; when any crash stops counting or changes, every changed crash's hours are recomputed instead.
CREATE FUNCTION loop_hours_instances_update() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE h text[]; e text[]; k int[]; i bigint[]; p bigint[]; t bigint[]; removed boolean;
BEGIN
    WITH d AS (
        SELECT x.host_id, x.db_epoch, x.id, x.program_id, x.worker, x.ended_at, x.uptime_ms, sum(x.w) AS w
        FROM (SELECT n.host_id, n.db_epoch, n.id, n.program_id, coalesce(n.worker_index, -1) AS worker, n.ended_at, n.uptime_ms, 1 AS w
              FROM new_rows n WHERE n.class IN ('crash', 'limit') AND n.ended_at IS NOT NULL
              UNION ALL
              SELECT o.host_id, o.db_epoch, o.id, o.program_id, coalesce(o.worker_index, -1), o.ended_at, o.uptime_ms, -1
              FROM old_rows o WHERE o.class IN ('crash', 'limit') AND o.ended_at IS NOT NULL) x
        GROUP BY x.host_id, x.db_epoch, x.id, x.program_id, x.worker, x.ended_at, x.uptime_ms
        HAVING sum(x.w) <> 0
    )
    SELECT array_agg(host_id), array_agg(db_epoch), array_agg(0), array_agg(id), array_agg(program_id), array_agg(ended_at),
           bool_or(w < 0)
      INTO h, e, k, i, p, t, removed
    FROM d;
    IF h IS NULL THEN RETURN NULL; END IF;
    IF removed THEN PERFORM loop_hours_recompute_near(h, e, p, t);
    ELSE PERFORM loop_hours_add(h, e, k, i, p, t);
    END IF;
    RETURN NULL;
END $$;

-- Deleted instance rows: the hours near each deleted crash are recomputed.
CREATE FUNCTION loop_hours_instances_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM loop_hours_recompute_near(array_agg(host_id), array_agg(db_epoch), array_agg(program_id), array_agg(ended_at))
    FROM old_rows WHERE class IN ('crash', 'limit') AND ended_at IS NOT NULL;
    RETURN NULL;
END $$;

-- operator_effects 'ended' rows added or deleted: the hours near the crashes they name are recomputed.
CREATE FUNCTION loop_hours_effects_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM loop_hours_recompute_near(array_agg(i.host_id), array_agg(i.db_epoch), array_agg(i.program_id), array_agg(i.ended_at))
        FROM new_rows f JOIN instances i ON i.host_id = f.host_id AND i.db_epoch = f.db_epoch AND i.id = f.instance_id
        WHERE f.effect = 'ended' AND i.class IN ('crash', 'limit') AND i.ended_at IS NOT NULL;
    ELSE
        PERFORM loop_hours_recompute_near(array_agg(i.host_id), array_agg(i.db_epoch), array_agg(i.program_id), array_agg(i.ended_at))
        FROM old_rows f JOIN instances i ON i.host_id = f.host_id AND i.db_epoch = f.db_epoch AND i.id = f.instance_id
        WHERE f.effect = 'ended' AND i.class IN ('crash', 'limit') AND i.ended_at IS NOT NULL;
    END IF;
    RETURN NULL;
END $$;

-- New events: program_hours adds their counts and maximum per hour; spawn_failed ones are added as crashes.
CREATE FUNCTION loop_hours_events_insert() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE h text[]; e text[]; k int[]; i bigint[]; p bigint[]; t bigint[];
BEGIN
    INSERT INTO program_hours AS ph (host_id, db_epoch, program_id, hour, starts, restarts, gave_ups, max_restart_delay_ms)
    SELECT n.host_id, n.db_epoch, n.program_id, n.ts - n.ts % 3600000, count(*) FILTER (WHERE n.kind = 1),
           count(*) FILTER (WHERE n.kind = 4), count(*) FILTER (WHERE n.kind = 5), max(n.value) FILTER (WHERE n.kind = 4)
    FROM new_rows n WHERE n.kind IN (1, 4, 5) AND n.program_id IS NOT NULL
    GROUP BY 1, 2, 3, 4
    ON CONFLICT (host_id, db_epoch, program_id, hour) DO UPDATE
       SET starts = ph.starts + EXCLUDED.starts, restarts = ph.restarts + EXCLUDED.restarts,
           gave_ups = ph.gave_ups + EXCLUDED.gave_ups,
           max_restart_delay_ms = greatest(ph.max_restart_delay_ms, EXCLUDED.max_restart_delay_ms);
    SELECT array_agg(host_id), array_agg(db_epoch), array_agg(9), array_agg(id), array_agg(program_id), array_agg(ts)
      INTO h, e, k, i, p, t
    FROM new_rows WHERE kind = 9 AND program_id IS NOT NULL;
    IF h IS NOT NULL THEN PERFORM loop_hours_add(h, e, k, i, p, t); END IF;
    RETURN NULL;
END $$;

-- Events deleted or updated (never by histd-ship; by hand): the (program, hour) slices of the old and new
-- rows are recomputed, program_hours for kinds 1, 4, 5 and loop_hours near spawn failures.
CREATE FUNCTION loop_hours_events_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE h text[]; e text[]; p bigint[]; t bigint[];
BEGIN
    IF TG_OP = 'DELETE' THEN
        SELECT array_agg(host_id), array_agg(db_epoch), array_agg(program_id), array_agg(ts) INTO h, e, p, t
        FROM old_rows WHERE kind IN (1, 4, 5, 9) AND program_id IS NOT NULL;
    ELSE
        SELECT array_agg(host_id), array_agg(db_epoch), array_agg(program_id), array_agg(ts) INTO h, e, p, t
        FROM (SELECT host_id, db_epoch, program_id, ts FROM old_rows WHERE kind IN (1, 4, 5, 9) AND program_id IS NOT NULL
              UNION ALL
              SELECT host_id, db_epoch, program_id, ts FROM new_rows WHERE kind IN (1, 4, 5, 9) AND program_id IS NOT NULL) x;
    END IF;
    IF h IS NOT NULL THEN
        PERFORM program_hours_recompute(h, e, p, (SELECT array_agg(x - x % 3600000) FROM unnest(t) x));
        PERFORM loop_hours_recompute_near(h, e, p, t);
    END IF;
    RETURN NULL;
END $$;

-- Recomputes both rollups for every program over the hours of [from_ms, until_ms): after retention
-- dropped a day of events (no trigger fires for DROP TABLE), or to check them.
CREATE FUNCTION fleet_rollups_recompute(from_ms bigint, until_ms bigint) RETURNS void LANGUAGE sql AS $$
    -- Every program shipped, and any a rollup row of the range names (a stale row goes too).
    WITH p AS (
        SELECT host_id, db_epoch, id AS program_id FROM programs
        UNION
        SELECT host_id, db_epoch, program_id FROM loop_hours WHERE hour >= from_ms - 3600000 AND hour < until_ms
        UNION
        SELECT host_id, db_epoch, program_id FROM program_hours WHERE hour >= from_ms - 3600000 AND hour < until_ms
    ),
    hours AS (SELECT hr AS hour FROM generate_series(from_ms - from_ms % 3600000, until_ms - 1, 3600000) AS hr),
    -- loop_hours_recompute takes every hour between a program's first and last named one: name those two.
    ends AS (SELECT p.host_id, p.db_epoch, p.program_id, e.hour FROM p
             CROSS JOIN (SELECT min(hour) AS hour FROM hours UNION ALL SELECT max(hour) FROM hours) e),
    every AS (SELECT p.host_id, p.db_epoch, p.program_id, h.hour FROM p CROSS JOIN hours h)
    SELECT (SELECT loop_hours_recompute(array_agg(host_id), array_agg(db_epoch), array_agg(program_id), array_agg(hour)) FROM ends),
           (SELECT program_hours_recompute(array_agg(host_id), array_agg(db_epoch), array_agg(program_id), array_agg(hour)) FROM every);
$$;

-- The triggers first: they lock out every writer of these tables until this migration commits, so no
-- row lands between the fill below and the triggers.
CREATE TRIGGER loop_hours_instances_insert AFTER INSERT ON instances
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION loop_hours_instances_insert();
CREATE TRIGGER loop_hours_instances_update AFTER UPDATE ON instances
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION loop_hours_instances_update();
CREATE TRIGGER loop_hours_instances_delete AFTER DELETE ON instances
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION loop_hours_instances_delete();
CREATE TRIGGER loop_hours_effects_insert AFTER INSERT ON operator_effects
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION loop_hours_effects_change();
CREATE TRIGGER loop_hours_effects_delete AFTER DELETE ON operator_effects
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION loop_hours_effects_change();
CREATE TRIGGER loop_hours_events_insert AFTER INSERT ON events
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION loop_hours_events_insert();
CREATE TRIGGER loop_hours_events_update AFTER UPDATE ON events
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION loop_hours_events_change();
CREATE TRIGGER loop_hours_events_delete AFTER DELETE ON events
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION loop_hours_events_change();

-- The rows for what is central already: every crash's membership in one pass, as local 0011 fills its own.
WITH c AS (
    SELECT i.host_id, i.db_epoch, i.program_id, i.ended_at AS ts, coalesce(i.worker_index, -1) AS worker, i.uptime_ms
    FROM instances i
    WHERE i.class IN ('crash', 'limit') AND i.ended_at IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM operator_effects f WHERE f.host_id = i.host_id AND f.db_epoch = i.db_epoch
                                                         AND f.instance_id = i.id AND f.effect = 'ended')
    UNION ALL
    SELECT e.host_id, e.db_epoch, e.program_id, e.ts, loop_worker(e.detail), NULL
    FROM events e WHERE e.kind = 9 AND e.program_id IS NOT NULL
),
m AS (
    SELECT c.*, lag(ts, 2) OVER w AS b2, lag(ts, 1) OVER w AS b1, lead(ts, 1) OVER w AS a1, lead(ts, 2) OVER w AS a2
    FROM c WINDOW w AS (PARTITION BY host_id, db_epoch, program_id ORDER BY ts)
)
INSERT INTO loop_hours (host_id, db_epoch, hour, program_id, worker, members, first_ms, last_ms, longest_uptime_ms)
SELECT host_id, db_epoch, ts - ts % 3600000, program_id, worker, count(*), min(ts), max(ts), max(uptime_ms)
FROM m
WHERE coalesce(a2 - ts <= 600000 OR a1 - b1 <= 600000 OR ts - b2 <= 600000, false)
GROUP BY 1, 2, 3, 4, 5;

INSERT INTO program_hours (host_id, db_epoch, program_id, hour, starts, restarts, gave_ups, max_restart_delay_ms)
SELECT e.host_id, e.db_epoch, e.program_id, e.ts - e.ts % 3600000, count(*) FILTER (WHERE e.kind = 1),
       count(*) FILTER (WHERE e.kind = 4), count(*) FILTER (WHERE e.kind = 5), max(e.value) FILTER (WHERE e.kind = 4)
FROM events e
WHERE e.kind IN (1, 4, 5) AND e.program_id IS NOT NULL
GROUP BY 1, 2, 3, 4;
