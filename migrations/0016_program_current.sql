-- 0016_program_current: a derived, exact per-program pointer to the rows `histctl status` decides a
-- program's state from (docs/SCHEMA.md, "Rollups"). Never edit once landed.
--
-- Why: status looked up, for each program, its newest instance, its newest ended instance, its newest
-- restart_scheduled/gave_up/spawn_failed event and whether its newest instance was asked to stop: about
-- 1,500 of the 2,350 pages a status on the 30-day x 200-program fixture touched, one B-tree descent per
-- program and index. Here they are one row per program: a few pages for all of them.
--
-- program_current is exactly the view program_current_source materialized (ProgramCurrentEquivalenceTests
-- compares the table with the view, and status from it with status from raw rows, on randomized histories
-- with retention). Inserts move the pointers forward: the writer does that once per transaction, from the
-- rows the transaction wrote (HistStore ProgramCurrent; per-row INSERT triggers cut its plain event rows
-- from ~364 k/s to ~105 k/s). A delete of a row a pointer names (retention), or a change of a row's
-- program or time (which nothing in histd makes), recomputes the program's row from the view, in the
-- triggers below: they run only in statements that delete those rows or set those columns.
CREATE TABLE program_current (
    program_id        INTEGER PRIMARY KEY,   -- programs.id
    inst_id           INTEGER,               -- the program's newest instance (by started_at, then id); NULL: none
    inst_started_at   INTEGER,               -- its started_at
    inst_stop         INTEGER NOT NULL DEFAULT 0,  -- 1: a stop_requested event (kind 6) names it, at or after its start
    ended_id          INTEGER,               -- the newest instance (by started_at, then id) that has ended; NULL: none
    ended_started_at  INTEGER,               -- its started_at
    mark_ts           INTEGER,               -- the newest (by ts, then id) restart_scheduled, gave_up or
    mark_id           INTEGER,               --   spawn_failed event (kinds 4, 5, 9) of the program: ts, id, kind
    mark_kind         INTEGER,
    fail_ts           INTEGER,               -- the newest gave_up or spawn_failed event (kinds 5, 9): ts, id, kind
    fail_id           INTEGER,
    fail_kind         INTEGER
);

-- The definition. Per kind, one backward scan of events_kind_ts (IN (4, 5, 9) with ORDER BY ts would
-- read every row of those kinds).
CREATE VIEW program_current_source AS
SELECT p.id AS program_id,
       ni.id AS inst_id, ni.started_at AS inst_started_at,
       CASE WHEN ni.id IS NULL THEN 0 ELSE EXISTS (
           SELECT 1 FROM events e WHERE e.kind = 6 AND e.ts >= ni.started_at AND e.program_id = p.id AND e.instance_id = ni.id)
       END AS inst_stop,
       ne.id AS ended_id, ne.started_at AS ended_started_at,
       m.ts AS mark_ts, m.id AS mark_id, m.kind AS mark_kind,
       f.ts AS fail_ts, f.id AS fail_id, f.kind AS fail_kind
FROM programs p
LEFT JOIN instances ni ON ni.id = (
    SELECT i.id FROM instances i WHERE i.program_id = p.id ORDER BY i.started_at DESC, i.id DESC LIMIT 1)
LEFT JOIN instances ne ON ne.id = (
    SELECT i.id FROM instances i WHERE i.program_id = p.id AND i.ended_at IS NOT NULL ORDER BY i.started_at DESC, i.id DESC LIMIT 1)
LEFT JOIN events m ON m.id = (
    SELECT k.id FROM (
        SELECT * FROM (SELECT e.id, e.ts FROM events e WHERE e.kind = 4 AND e.program_id = p.id ORDER BY e.ts DESC, e.id DESC LIMIT 1)
        UNION ALL
        SELECT * FROM (SELECT e.id, e.ts FROM events e WHERE e.kind = 5 AND e.program_id = p.id ORDER BY e.ts DESC, e.id DESC LIMIT 1)
        UNION ALL
        SELECT * FROM (SELECT e.id, e.ts FROM events e WHERE e.kind = 9 AND e.program_id = p.id ORDER BY e.ts DESC, e.id DESC LIMIT 1)
    ) k ORDER BY k.ts DESC, k.id DESC LIMIT 1)
LEFT JOIN events f ON f.id = (
    SELECT k.id FROM (
        SELECT * FROM (SELECT e.id, e.ts FROM events e WHERE e.kind = 5 AND e.program_id = p.id ORDER BY e.ts DESC, e.id DESC LIMIT 1)
        UNION ALL
        SELECT * FROM (SELECT e.id, e.ts FROM events e WHERE e.kind = 9 AND e.program_id = p.id ORDER BY e.ts DESC, e.id DESC LIMIT 1)
    ) k ORDER BY k.ts DESC, k.id DESC LIMIT 1);

-- The rows for the existing history (programs with nothing at all get a row of NULLs, as recomputing does).
INSERT INTO program_current SELECT * FROM program_current_source;

-- program_states (migrations/0007_rollups.sql), recreated with the same columns and rows, from the pointers
-- (histctl status reads it for every program). ProgramCurrentEquivalenceTests compares it with 0007's.
DROP VIEW program_states;
CREATE VIEW program_states AS
WITH
latest_run AS (
    SELECT id, stopped_at FROM runs ORDER BY started_at DESC, id DESC LIMIT 1
),
open_counts AS (
    SELECT o.program_id AS program_id, COUNT(*) AS n FROM instances o
    WHERE o.run_id = (SELECT id FROM latest_run) AND o.ended_at IS NULL
    GROUP BY o.program_id
)
SELECT p.id AS program_id, p.name AS program, p.kind AS program_kind, COALESCE(oc.n, 0) AS open_instances,
       i.id AS instance_id, i.pid, i.started_at, i.ended_at, i.class, i.run_id,
       CASE
         WHEN p.kind = 'pool' AND COALESCE(oc.n, 0) > 0
              AND (SELECT stopped_at FROM latest_run) IS NULL THEN 'running'
         WHEN i.id IS NULL THEN
           COALESCE(CASE c.fail_kind WHEN 5 THEN 'failed' WHEN 9 THEN 'backoff' END, 'never_started')
         WHEN i.ended_at IS NULL THEN
           CASE
             WHEN i.run_id IS NOT (SELECT id FROM latest_run)
                  OR (SELECT stopped_at FROM latest_run) IS NOT NULL THEN 'unknown'
             WHEN c.inst_stop THEN 'stopping'
             ELSE 'running'
           END
         WHEN i.run_id IS NOT (SELECT id FROM latest_run)
              OR (SELECT stopped_at FROM latest_run) IS NOT NULL THEN 'stopped'
         -- the newest restart_scheduled, gave_up or spawn_failed at or after the newest instance's end
         WHEN c.mark_ts >= i.ended_at THEN CASE c.mark_kind WHEN 5 THEN 'failed' ELSE 'backoff' END
         ELSE CASE i.class WHEN 'clean' THEN 'exited' WHEN 'crash' THEN 'exited'
                           WHEN 'spawn_failed' THEN 'failed' ELSE 'stopped' END
       END AS state
FROM programs p
LEFT JOIN program_current c ON c.program_id = p.id
LEFT JOIN open_counts oc ON oc.program_id = p.id
LEFT JOIN instances i ON i.id = c.inst_id;

-- Retention deleting a row a pointer names, or a row moved to another program or time (which nothing in
-- histd does), recomputes the program's row from the definition.
CREATE TRIGGER program_current_instance_deleted AFTER DELETE ON instances
WHEN EXISTS (SELECT 1 FROM program_current c WHERE c.program_id = OLD.program_id AND (c.inst_id = OLD.id OR c.ended_id = OLD.id))
BEGIN
    DELETE FROM program_current WHERE program_id = OLD.program_id;
    INSERT INTO program_current SELECT * FROM program_current_source WHERE program_id = OLD.program_id;
END;

CREATE TRIGGER program_current_instance_moved AFTER UPDATE OF program_id, started_at ON instances
WHEN OLD.program_id IS NOT NEW.program_id OR OLD.started_at IS NOT NEW.started_at
BEGIN
    DELETE FROM program_current WHERE program_id IN (OLD.program_id, NEW.program_id);
    INSERT INTO program_current SELECT * FROM program_current_source WHERE program_id IN (OLD.program_id, NEW.program_id);
END;

CREATE TRIGGER program_current_event_deleted AFTER DELETE ON events
WHEN OLD.program_id IS NOT NULL AND OLD.kind IN (4, 5, 6, 9) AND EXISTS (
    SELECT 1 FROM program_current c WHERE c.program_id = OLD.program_id
      AND (c.mark_id = OLD.id OR c.fail_id = OLD.id OR (OLD.kind = 6 AND c.inst_id IS OLD.instance_id)))
BEGIN
    DELETE FROM program_current WHERE program_id = OLD.program_id;
    INSERT INTO program_current SELECT * FROM program_current_source WHERE program_id = OLD.program_id;
END;

CREATE TRIGGER program_current_event_moved AFTER UPDATE OF ts, kind, program_id, instance_id ON events
WHEN (OLD.kind IN (4, 5, 6, 9) OR NEW.kind IN (4, 5, 6, 9))
     AND (OLD.ts IS NOT NEW.ts OR OLD.kind IS NOT NEW.kind OR OLD.program_id IS NOT NEW.program_id
          OR OLD.instance_id IS NOT NEW.instance_id)
BEGIN
    DELETE FROM program_current WHERE program_id IN (OLD.program_id, NEW.program_id);
    INSERT INTO program_current SELECT * FROM program_current_source WHERE program_id IN (OLD.program_id, NEW.program_id);
END;
