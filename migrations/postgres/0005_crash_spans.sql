-- 0005_crash_spans: per-program crash totals over spans of 10 minutes, an hour and 6 hours, so that fleet
-- `crashes --summary` (with no --program filter) reads a day as about three 6-hour spans, a few hours and
-- a few 10-minute spans per program, and raw instances only for the last minutes at each edge of its range
-- (docs/FLEET.md, "The central schema"). Applied by histd-ship or `histctl fleet migrate`. Never edit once
-- landed.
--
-- Why another rollup beside crash_hours (0003): crash_hours keeps one row per hour, program, pool worker
-- slot and outcome (2.5 per program-hour on the 100-host fixture), and every partial hour at the edges of
-- a range is read raw; a day over 100 hosts was 124,000 rollup rows plus 74,000 raw crashes, about 250 ms
-- in the server. Here one row per span and program holds the outcomes as two sorted arrays, and a day is
-- about 60,000 rows and 13,000 raw crashes (BENCHMARKS.md). crash_hours stays what `--program` filters
-- read (they can name a pool worker slot, which this table does not keep).
--
-- crash_spans holds, per span length, span start, host, epoch and program, what crash_hours holds summed
-- over worker slots and outcomes: the crashes and limit kills (instances that ended as 'crash' or 'limit',
-- less the ends an operator caused: an operator_effects 'ended' row), the first and last of their ends,
-- and their distinct exit codes and signals. A span starts at a multiple of its length in ms since the
-- epoch (UTC-aligned: 6-hour spans start at 00, 06, 12 and 18 UTC), rounded down (crash_spans_floor).
-- It is derived from instances and operator_effects and kept exact by the statement triggers below, in
-- the transaction that changes them, as 0003 keeps crash_hours:
-- - a new instance row that counts, or an updated one that starts to count, adds itself to its three
--   spans (one grouped UPSERT per statement);
-- - anything else (a row that stops counting, changes outcome or time, is deleted, or gets or loses an
--   operator 'ended' effect) recomputes its 10-minute span from the raw rows, then the hour holding it
--   from the 10-minute spans, then the 6 hours holding that from the hours (crash_spans_recompute).
CREATE TABLE crash_spans (
    span_ms     bigint   NOT NULL,   -- 600000 (10 minutes), 3600000 (an hour) or 21600000 (6 hours)
    start_ms    bigint   NOT NULL,   -- crash_spans_floor(ended_at, span_ms)
    host_id     text     NOT NULL,
    db_epoch    text     NOT NULL,
    program_id  bigint   NOT NULL,   -- programs.id (per host and epoch)
    crashes     bigint   NOT NULL,   -- instances that ended in the span as a crash or a limit kill
    limit_kills bigint   NOT NULL,   -- how many of them were limit kills
    first_ms    bigint   NOT NULL,   -- the earliest of their ended_at
    last_ms     bigint   NOT NULL,   -- the latest of their ended_at
    exit_codes  bigint[] NOT NULL,   -- their distinct exit codes, ascending ('{}': all killed by a signal)
    signals     bigint[] NOT NULL,   -- their distinct signals, ascending ('{}': all exited)
    PRIMARY KEY (span_ms, start_ms, host_id, db_epoch, program_id)
);

-- t rounded down to a multiple of s (toward minus infinity, so a span is always [start, start + s)).
CREATE FUNCTION crash_spans_floor(t bigint, s bigint) RETURNS bigint LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT t - ((t % s) + s) % s
$$;

-- The distinct values of two sorted arrays, ascending.
CREATE FUNCTION crash_spans_union(a bigint[], b bigint[]) RETURNS bigint[] LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(array_agg(DISTINCT v ORDER BY v), '{}') FROM unnest(a || b) v
$$;

-- Concatenates arrays (a report's first step in merging spans; it takes the distinct values of the result).
-- array_cat is PostgreSQL's own C function; there is no built-in aggregate of it.
CREATE AGGREGATE crash_spans_cat(anycompatiblearray) (SFUNC = array_cat, STYPE = anycompatiblearray);

-- Adds crashes (given as parallel arrays: host, epoch, program, end time, class, exit code, signal; the
-- caller has checked that each counts) to their spans of all three lengths.
CREATE FUNCTION crash_spans_add(hosts text[], epochs text[], programs bigint[], ends bigint[], classes text[],
                                codes bigint[], sigs bigint[]) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO crash_spans AS c (span_ms, start_ms, host_id, db_epoch, program_id, crashes, limit_kills, first_ms, last_ms,
                                  exit_codes, signals)
    SELECT s.span_ms, crash_spans_floor(n.ended_at, s.span_ms), n.host_id, n.db_epoch, n.program_id, count(*),
           count(*) FILTER (WHERE n.class = 'limit'), min(n.ended_at), max(n.ended_at),
           coalesce(array_agg(DISTINCT n.exit_code ORDER BY n.exit_code) FILTER (WHERE n.exit_code >= 0), '{}'),
           coalesce(array_agg(DISTINCT n.signal ORDER BY n.signal) FILTER (WHERE n.signal IS NOT NULL AND n.signal <> 0), '{}')
    FROM unnest(hosts, epochs, programs, ends, classes, codes, sigs) AS n(host_id, db_epoch, program_id, ended_at, class, exit_code, signal)
    CROSS JOIN (VALUES (600000::bigint), (3600000), (21600000)) AS s(span_ms)
    GROUP BY 1, 2, 3, 4, 5
    ON CONFLICT (span_ms, start_ms, host_id, db_epoch, program_id) DO UPDATE
       SET crashes = c.crashes + EXCLUDED.crashes, limit_kills = c.limit_kills + EXCLUDED.limit_kills,
           first_ms = least(c.first_ms, EXCLUDED.first_ms), last_ms = greatest(c.last_ms, EXCLUDED.last_ms),
           exit_codes = crash_spans_union(c.exit_codes, EXCLUDED.exit_codes),
           signals = crash_spans_union(c.signals, EXCLUDED.signals);
$$;

-- Recomputes the spans of length `span` holding the (host, epoch, program, time) named by the four arrays
-- from the spans of length `below` inside them.
CREATE FUNCTION crash_spans_roll_up(span bigint, below bigint, hosts text[], epochs text[], programs bigint[], times bigint[])
RETURNS void LANGUAGE sql AS $$
    DELETE FROM crash_spans c
    USING unnest(hosts, epochs, programs, times) AS s(host_id, db_epoch, program_id, t)
    WHERE c.span_ms = span AND c.start_ms = crash_spans_floor(s.t, span)
      AND c.host_id = s.host_id AND c.db_epoch = s.db_epoch AND c.program_id = s.program_id;
    INSERT INTO crash_spans (span_ms, start_ms, host_id, db_epoch, program_id, crashes, limit_kills, first_ms, last_ms, exit_codes, signals)
    SELECT span, k.start_ms, k.host_id, k.db_epoch, k.program_id, sum(c.crashes), sum(c.limit_kills), min(c.first_ms), max(c.last_ms),
           (SELECT coalesce(array_agg(DISTINCT v ORDER BY v), '{}') FROM unnest(crash_spans_cat(c.exit_codes)) v),
           (SELECT coalesce(array_agg(DISTINCT v ORDER BY v), '{}') FROM unnest(crash_spans_cat(c.signals)) v)
    FROM (SELECT DISTINCT host_id, db_epoch, program_id, crash_spans_floor(t, span) AS start_ms
          FROM unnest(hosts, epochs, programs, times) AS u(host_id, db_epoch, program_id, t)) k
    JOIN crash_spans c ON c.span_ms = below AND c.start_ms >= k.start_ms AND c.start_ms < k.start_ms + span
     AND c.host_id = k.host_id AND c.db_epoch = k.db_epoch AND c.program_id = k.program_id
    GROUP BY k.start_ms, k.host_id, k.db_epoch, k.program_id;
$$;

-- Recomputes the 10-minute spans holding the (host, epoch, program, time) named by the four arrays from the
-- raw rows, then the hours holding those from the 10-minute spans, then the 6 hours from the hours. Each
-- statement of a SQL function sees the ones before it.
CREATE FUNCTION crash_spans_recompute(hosts text[], epochs text[], programs bigint[], times bigint[]) RETURNS void
LANGUAGE sql AS $$
    DELETE FROM crash_spans c
    USING unnest(hosts, epochs, programs, times) AS s(host_id, db_epoch, program_id, t)
    WHERE c.span_ms = 600000 AND c.start_ms = crash_spans_floor(s.t, 600000)
      AND c.host_id = s.host_id AND c.db_epoch = s.db_epoch AND c.program_id = s.program_id;
    INSERT INTO crash_spans (span_ms, start_ms, host_id, db_epoch, program_id, crashes, limit_kills, first_ms, last_ms, exit_codes, signals)
    SELECT 600000, s.start_ms, i.host_id, i.db_epoch, i.program_id, count(*), count(*) FILTER (WHERE i.class = 'limit'),
           min(i.ended_at), max(i.ended_at),
           coalesce(array_agg(DISTINCT i.exit_code ORDER BY i.exit_code) FILTER (WHERE i.exit_code >= 0), '{}'),
           coalesce(array_agg(DISTINCT i.signal ORDER BY i.signal) FILTER (WHERE i.signal IS NOT NULL AND i.signal <> 0), '{}')
    FROM (SELECT DISTINCT host_id, db_epoch, program_id, crash_spans_floor(t, 600000) AS start_ms
          FROM unnest(hosts, epochs, programs, times) AS u(host_id, db_epoch, program_id, t)) s
    -- A range of instances_program_crashes (0004).
    JOIN instances i ON i.host_id = s.host_id AND i.db_epoch = s.db_epoch AND i.program_id = s.program_id
     AND i.ended_at >= s.start_ms AND i.ended_at < s.start_ms + 600000
    WHERE i.class IN ('crash', 'limit')
      AND NOT EXISTS (SELECT 1 FROM operator_effects f WHERE f.host_id = i.host_id AND f.db_epoch = i.db_epoch
                                                         AND f.instance_id = i.id AND f.effect = 'ended')
    GROUP BY 2, 3, 4, 5;
    -- Each longer span from the 6 spans below it that it holds, the hour first.
    SELECT crash_spans_roll_up(3600000, 600000, hosts, epochs, programs, times);
    SELECT crash_spans_roll_up(21600000, 3600000, hosts, epochs, programs, times);
$$;

-- New instance rows: each one that counts is added.
CREATE FUNCTION crash_spans_instances_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM crash_spans_add(array_agg(n.host_id), array_agg(n.db_epoch), array_agg(n.program_id), array_agg(n.ended_at),
                            array_agg(n.class), array_agg(n.exit_code), array_agg(n.signal))
    FROM new_rows n
    WHERE n.class IN ('crash', 'limit') AND n.ended_at IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM operator_effects f WHERE f.host_id = n.host_id AND f.db_epoch = n.db_epoch
                                                         AND f.instance_id = n.id AND f.effect = 'ended')
    HAVING count(*) > 0;
    RETURN NULL;
END $$;

-- Updated instance rows: each row's contribution before (-1) and after (+1) summed per instance and what
-- this table keys and keeps, a hash aggregate with no join (0003's lesson: a join of the two transition
-- tables, which have no statistics, planned as a nested loop). Same state: the two cancel. Starts to
-- count: added. Stops counting, or changes outcome or time: its 10-minute span is recomputed, and a row
-- that starts to count inside such a span is left to the recompute.
CREATE FUNCTION crash_spans_instances_update() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    rh text[]; re text[]; rp bigint[]; rt bigint[];
    ah text[]; ae text[]; ap bigint[]; aend bigint[]; ac text[]; ax bigint[]; asig bigint[];
BEGIN
    WITH d AS (
        SELECT x.host_id, x.db_epoch, x.id, x.program_id, x.class, x.exit_code, x.signal, x.ended_at, sum(x.w) AS w
        FROM (SELECT n.host_id, n.db_epoch, n.id, n.program_id, n.class, n.exit_code, n.signal, n.ended_at, 1 AS w
              FROM new_rows n WHERE n.class IN ('crash', 'limit') AND n.ended_at IS NOT NULL
              UNION ALL
              SELECT o.host_id, o.db_epoch, o.id, o.program_id, o.class, o.exit_code, o.signal, o.ended_at, -1
              FROM old_rows o WHERE o.class IN ('crash', 'limit') AND o.ended_at IS NOT NULL) x
        GROUP BY x.host_id, x.db_epoch, x.id, x.program_id, x.class, x.exit_code, x.signal, x.ended_at
        HAVING sum(x.w) <> 0
    ),
    r AS (SELECT DISTINCT host_id, db_epoch, program_id, crash_spans_floor(ended_at, 600000) AS ten FROM d WHERE w < 0),
    a AS (
        SELECT d.* FROM d
        WHERE d.w > 0
          AND NOT EXISTS (SELECT 1 FROM operator_effects f WHERE f.host_id = d.host_id AND f.db_epoch = d.db_epoch
                                                             AND f.instance_id = d.id AND f.effect = 'ended')
          AND NOT EXISTS (SELECT 1 FROM r WHERE r.host_id = d.host_id AND r.db_epoch = d.db_epoch AND r.program_id = d.program_id
                                            AND r.ten = crash_spans_floor(d.ended_at, 600000))
    )
    SELECT (SELECT array_agg(host_id) FROM r), (SELECT array_agg(db_epoch) FROM r), (SELECT array_agg(program_id) FROM r),
           (SELECT array_agg(ten) FROM r),
           (SELECT array_agg(host_id) FROM a), (SELECT array_agg(db_epoch) FROM a), (SELECT array_agg(program_id) FROM a),
           (SELECT array_agg(ended_at) FROM a), (SELECT array_agg(class) FROM a), (SELECT array_agg(exit_code) FROM a),
           (SELECT array_agg(signal) FROM a)
      INTO rh, re, rp, rt, ah, ae, ap, aend, ac, ax, asig;
    -- The additions first: a recompute of an hour or 6 hours then reads the spans below it as they are now.
    IF ah IS NOT NULL THEN PERFORM crash_spans_add(ah, ae, ap, aend, ac, ax, asig); END IF;
    IF rh IS NOT NULL THEN PERFORM crash_spans_recompute(rh, re, rp, rt); END IF;
    RETURN NULL;
END $$;

-- Deleted instance rows: their spans are recomputed.
CREATE FUNCTION crash_spans_instances_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM crash_spans_recompute(array_agg(o.host_id), array_agg(o.db_epoch), array_agg(o.program_id), array_agg(o.ended_at))
    FROM old_rows o WHERE o.class IN ('crash', 'limit') AND o.ended_at IS NOT NULL
    HAVING count(*) > 0;
    RETURN NULL;
END $$;

-- operator_effects 'ended' rows added or deleted (one function for both: the rows are in `changed`): the
-- spans of the crashes they name are recomputed.
CREATE FUNCTION crash_spans_effects_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM crash_spans_recompute(array_agg(i.host_id), array_agg(i.db_epoch), array_agg(i.program_id), array_agg(i.ended_at))
    FROM changed f
    JOIN instances i ON i.host_id = f.host_id AND i.db_epoch = f.db_epoch AND i.id = f.instance_id
    WHERE f.effect = 'ended' AND i.class IN ('crash', 'limit') AND i.ended_at IS NOT NULL
    HAVING count(*) > 0;
    RETURN NULL;
END $$;

-- The triggers first: they lock out every writer of instances and operator_effects until this migration
-- commits, so no row lands between the fill below and the triggers.
CREATE TRIGGER crash_spans_instances_insert AFTER INSERT ON instances
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION crash_spans_instances_insert();
CREATE TRIGGER crash_spans_instances_update AFTER UPDATE ON instances
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION crash_spans_instances_update();
CREATE TRIGGER crash_spans_instances_delete AFTER DELETE ON instances
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION crash_spans_instances_delete();
CREATE TRIGGER crash_spans_effects_insert AFTER INSERT ON operator_effects
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION crash_spans_effects_change();
CREATE TRIGGER crash_spans_effects_delete AFTER DELETE ON operator_effects
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION crash_spans_effects_change();

-- The rows for what is central already: every 10-minute span with a crash, recomputed (so the fill is the
-- recompute's own arithmetic, not a second copy of it).
SELECT crash_spans_recompute(array_agg(host_id), array_agg(db_epoch), array_agg(program_id), array_agg(ten))
FROM (SELECT DISTINCT host_id, db_epoch, program_id, crash_spans_floor(ended_at, 600000) AS ten
      FROM instances WHERE class IN ('crash', 'limit') AND ended_at IS NOT NULL) s
HAVING count(*) > 0;
