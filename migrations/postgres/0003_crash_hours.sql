-- 0003_crash_hours: the central twin of the local crash_hours rollup (local migration 0007), so that fleet
-- `crashes --summary` reads whole hours from it and raw instances only at the edges of its range, as the
-- local report does (docs/FLEET.md, "The central schema"). Applied by histd-ship or `histctl fleet migrate`.
-- Never edit once landed.
--
-- crash_hours holds, per host, epoch, UTC hour of the end time, program, pool worker slot and outcome, how
-- many instances ended as a crash or a limit kill (less the ends an operator caused: an operator_effects
-- 'ended' row), and the first and last of those ends: exactly what local crash_hours holds for that host
-- and epoch. It is derived from the central `instances` and `operator_effects` and kept exact by the
-- statement triggers below, in the transaction that changes them, so whichever histd-ship version writes
-- the rows (or a hand-made INSERT ... SELECT), the rollup follows:
-- - a new instance row adds itself (one grouped UPSERT per statement, from its transition table);
-- - an updated row that starts to count (it ended as a crash) adds itself the same way; one that stops
--   counting or changes outcome or time (rare: a resync, a correction) has its (program, hour) recomputed
--   from the raw rows, as does every (program, hour) an operator_effects 'ended' row arrives for, and any
--   deleted row's. Additions keep first/last exact; only a removal needs the raw rows.
-- The columns that are NULL in instances are NOT NULL here (exit_code -1 = killed by a signal, signal 0 =
-- it exited, worker -1 = a plain program), so one outcome is one key.
CREATE TABLE crash_hours (
    host_id     text   NOT NULL,
    db_epoch    text   NOT NULL,
    hour        bigint NOT NULL,   -- ended_at - ended_at % 3600000
    program_id  bigint NOT NULL,   -- programs.id (per host and epoch)
    worker      bigint NOT NULL,   -- instances.worker_index, -1 for a plain program
    class       text   NOT NULL,   -- 'crash' or 'limit'
    exit_code   bigint NOT NULL,   -- instances.exit_code, -1 when killed by a signal
    signal      bigint NOT NULL,   -- instances.signal, 0 when it exited
    crashes     bigint NOT NULL,   -- instances in this hour with this outcome
    first_ms    bigint NOT NULL,   -- the earliest of their ended_at
    last_ms     bigint NOT NULL,   -- the latest of their ended_at
    PRIMARY KEY (hour, host_id, db_epoch, program_id, worker, class, exit_code, signal)
);

-- Recomputes the (host, epoch, program, hour) slices named by the four arrays from the raw rows.
CREATE FUNCTION crash_hours_recompute(hosts text[], epochs text[], programs bigint[], hours bigint[]) RETURNS void
LANGUAGE sql AS $$
    DELETE FROM crash_hours c
    USING unnest(hosts, epochs, programs, hours) AS s(host_id, db_epoch, program_id, hour)
    WHERE c.hour = s.hour AND c.host_id = s.host_id AND c.db_epoch = s.db_epoch AND c.program_id = s.program_id;
    INSERT INTO crash_hours (host_id, db_epoch, hour, program_id, worker, class, exit_code, signal, crashes, first_ms, last_ms)
    SELECT i.host_id, i.db_epoch, i.ended_at - i.ended_at % 3600000, i.program_id, coalesce(i.worker_index, -1), i.class,
           coalesce(i.exit_code, -1), coalesce(i.signal, 0), count(*), min(i.ended_at), max(i.ended_at)
    FROM (SELECT DISTINCT * FROM unnest(hosts, epochs, programs, hours) AS u(host_id, db_epoch, program_id, hour)) s
    JOIN instances i ON i.host_id = s.host_id AND i.db_epoch = s.db_epoch AND i.program_id = s.program_id
     -- A superset for the index (instances_crashes), then the exact bucket (negative times round toward zero).
     AND i.ended_at > s.hour - 3600000 AND i.ended_at < s.hour + 3600000 AND i.ended_at - i.ended_at % 3600000 = s.hour
    WHERE i.class IN ('crash', 'limit')
      AND NOT EXISTS (SELECT 1 FROM operator_effects f WHERE f.host_id = i.host_id AND f.db_epoch = i.db_epoch
                                                         AND f.instance_id = i.id AND f.effect = 'ended')
    GROUP BY 1, 2, 3, 4, 5, 6, 7, 8;
$$;

-- New instance rows: each one that counts is added.
CREATE FUNCTION crash_hours_instances_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO crash_hours AS c (host_id, db_epoch, hour, program_id, worker, class, exit_code, signal, crashes, first_ms, last_ms)
    SELECT n.host_id, n.db_epoch, n.ended_at - n.ended_at % 3600000, n.program_id, coalesce(n.worker_index, -1), n.class,
           coalesce(n.exit_code, -1), coalesce(n.signal, 0), count(*), min(n.ended_at), max(n.ended_at)
    FROM new_rows n
    WHERE n.class IN ('crash', 'limit') AND n.ended_at IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM operator_effects f WHERE f.host_id = n.host_id AND f.db_epoch = n.db_epoch
                                                         AND f.instance_id = n.id AND f.effect = 'ended')
    GROUP BY 1, 2, 3, 4, 5, 6, 7, 8
    ON CONFLICT (hour, host_id, db_epoch, program_id, worker, class, exit_code, signal) DO UPDATE
       SET crashes = c.crashes + EXCLUDED.crashes, first_ms = least(c.first_ms, EXCLUDED.first_ms),
           last_ms = greatest(c.last_ms, EXCLUDED.last_ms);
    RETURN NULL;
END $$;

-- Updated instance rows (histd-ship's upserts: an instance shipped at its start, then at its end; or the
-- same state again). Each row's contribution before (-1) and after (+1) is summed per instance and outcome,
-- a hash aggregate with no join (transition tables have no statistics: a join of the two planned as a
-- nested loop, 2.8 M comparisons for one 1,666-row statement, and cut shipping from 33 k to 13 k events/s).
-- Same state: the two cancel. Starts to count: added. Stops counting or moves: its slice is recomputed.
CREATE FUNCTION crash_hours_instances_update() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE h text[]; e text[]; p bigint[]; hr bigint[];
BEGIN
    WITH d AS (
        SELECT x.host_id, x.db_epoch, x.id, x.program_id, x.worker_index, x.class, x.exit_code, x.signal, x.ended_at,
               sum(x.w) AS w
        FROM (SELECT n.host_id, n.db_epoch, n.id, n.program_id, n.worker_index, n.class, n.exit_code, n.signal, n.ended_at, 1 AS w
              FROM new_rows n WHERE n.class IN ('crash', 'limit') AND n.ended_at IS NOT NULL
              UNION ALL
              SELECT o.host_id, o.db_epoch, o.id, o.program_id, o.worker_index, o.class, o.exit_code, o.signal, o.ended_at, -1
              FROM old_rows o WHERE o.class IN ('crash', 'limit') AND o.ended_at IS NOT NULL) x
        GROUP BY x.host_id, x.db_epoch, x.id, x.program_id, x.worker_index, x.class, x.exit_code, x.signal, x.ended_at
        HAVING sum(x.w) <> 0
    ),
    -- The (program, hour) slices a changed row leaves (it counted before, not with the same outcome and time now).
    r AS (SELECT DISTINCT host_id, db_epoch, program_id, ended_at - ended_at % 3600000 AS hour FROM d WHERE w < 0),
    -- The rows that start to count, outside those slices (a recomputed slice reads them from instances).
    added AS (
        INSERT INTO crash_hours AS c (host_id, db_epoch, hour, program_id, worker, class, exit_code, signal, crashes, first_ms, last_ms)
        SELECT a.host_id, a.db_epoch, a.ended_at - a.ended_at % 3600000, a.program_id, coalesce(a.worker_index, -1), a.class,
               coalesce(a.exit_code, -1), coalesce(a.signal, 0), count(*), min(a.ended_at), max(a.ended_at)
        FROM d a
        WHERE a.w > 0
          AND NOT EXISTS (SELECT 1 FROM operator_effects f WHERE f.host_id = a.host_id AND f.db_epoch = a.db_epoch
                                                             AND f.instance_id = a.id AND f.effect = 'ended')
          AND NOT EXISTS (SELECT 1 FROM r WHERE r.host_id = a.host_id AND r.db_epoch = a.db_epoch AND r.program_id = a.program_id
                                            AND r.hour = a.ended_at - a.ended_at % 3600000)
        GROUP BY 1, 2, 3, 4, 5, 6, 7, 8
        ON CONFLICT (hour, host_id, db_epoch, program_id, worker, class, exit_code, signal) DO UPDATE
           SET crashes = c.crashes + EXCLUDED.crashes, first_ms = least(c.first_ms, EXCLUDED.first_ms),
               last_ms = greatest(c.last_ms, EXCLUDED.last_ms)
        RETURNING 1
    )
    SELECT array_agg(host_id), array_agg(db_epoch), array_agg(program_id), array_agg(hour) INTO h, e, p, hr FROM r;
    -- After the statement above, whose INSERT has run: a recompute then reads its rows as they are now.
    IF h IS NOT NULL THEN PERFORM crash_hours_recompute(h, e, p, hr); END IF;
    RETURN NULL;
END $$;

-- Deleted instance rows: their slices are recomputed.
CREATE FUNCTION crash_hours_instances_delete() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE h text[]; e text[]; p bigint[]; hr bigint[];
BEGIN
    SELECT array_agg(o.host_id), array_agg(o.db_epoch), array_agg(o.program_id), array_agg(o.ended_at - o.ended_at % 3600000)
      INTO h, e, p, hr
    FROM old_rows o WHERE o.class IN ('crash', 'limit') AND o.ended_at IS NOT NULL;
    IF h IS NOT NULL THEN PERFORM crash_hours_recompute(h, e, p, hr); END IF;
    RETURN NULL;
END $$;

-- Recomputes the slices of the crashes named by (host, epoch, instance id); names of other rows are ignored.
CREATE FUNCTION crash_hours_recompute_instances(hosts text[], epochs text[], ids bigint[]) RETURNS void
LANGUAGE sql AS $$
    SELECT crash_hours_recompute(array_agg(i.host_id), array_agg(i.db_epoch), array_agg(i.program_id),
                                 array_agg(i.ended_at - i.ended_at % 3600000))
    FROM unnest(hosts, epochs, ids) AS f(host_id, db_epoch, id)
    JOIN instances i ON i.host_id = f.host_id AND i.db_epoch = f.db_epoch AND i.id = f.id
    WHERE i.class IN ('crash', 'limit') AND i.ended_at IS NOT NULL
    HAVING count(*) > 0;
$$;

-- operator_effects 'ended' rows added or deleted: the slices of the crashes they name are recomputed.
CREATE FUNCTION crash_hours_effects_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM crash_hours_recompute_instances(array_agg(host_id), array_agg(db_epoch), array_agg(instance_id))
    FROM new_rows WHERE effect = 'ended';
    RETURN NULL;
END $$;
CREATE FUNCTION crash_hours_effects_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM crash_hours_recompute_instances(array_agg(host_id), array_agg(db_epoch), array_agg(instance_id))
    FROM old_rows WHERE effect = 'ended';
    RETURN NULL;
END $$;

-- The triggers first: they lock out every writer of instances and operator_effects until this migration
-- commits, so no row lands between the fill below and the triggers.
CREATE TRIGGER crash_hours_instances_insert AFTER INSERT ON instances
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION crash_hours_instances_insert();
CREATE TRIGGER crash_hours_instances_update AFTER UPDATE ON instances
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION crash_hours_instances_update();
CREATE TRIGGER crash_hours_instances_delete AFTER DELETE ON instances
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION crash_hours_instances_delete();
CREATE TRIGGER crash_hours_effects_insert AFTER INSERT ON operator_effects
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION crash_hours_effects_insert();
CREATE TRIGGER crash_hours_effects_delete AFTER DELETE ON operator_effects
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION crash_hours_effects_delete();

-- The rows for what is central already.
INSERT INTO crash_hours (host_id, db_epoch, hour, program_id, worker, class, exit_code, signal, crashes, first_ms, last_ms)
SELECT i.host_id, i.db_epoch, i.ended_at - i.ended_at % 3600000, i.program_id, coalesce(i.worker_index, -1), i.class,
       coalesce(i.exit_code, -1), coalesce(i.signal, 0), count(*), min(i.ended_at), max(i.ended_at)
FROM instances i
WHERE i.class IN ('crash', 'limit') AND i.ended_at IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM operator_effects f WHERE f.host_id = i.host_id AND f.db_epoch = i.db_epoch
                                                     AND f.instance_id = i.id AND f.effect = 'ended')
GROUP BY 1, 2, 3, 4, 5, 6, 7, 8;
