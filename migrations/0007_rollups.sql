-- 0007_rollups: derived, exact per-hour summaries of crashes and limit kills (docs/SCHEMA.md, "Rollups").
-- Never edit once landed.
--
-- crash_hours holds, per UTC hour of the end time, program, pool worker slot and outcome, how many
-- instances ended as a crash or a limit kill, and the first and last of those ends. It is derived
-- from instances (class IN ('crash', 'limit'), less the ends an operator caused: operator_effects
-- 'ended', 0004) and kept exact: the writer adds each crash in the same
-- transaction that records the instance's end (HistStore CrashRollup, one UPSERT per key per batch),
-- and retention removes a pruned hour together with its instances and recomputes the hour it cuts
-- into (HistStore Pruner). Reports read whole hours here and only the partial hours at the edges of
-- a range from instances. The columns that are NULL in instances are NOT NULL here, so that one
-- outcome is one primary key: exit_code -1 = killed by a signal, signal 0 = it exited, worker -1 =
-- a plain program.
CREATE TABLE crash_hours (
    hour        INTEGER NOT NULL,   -- start of the UTC hour of instances.ended_at (ms): ended_at - ended_at % 3600000
    program_id  INTEGER NOT NULL,   -- programs.id
    worker      INTEGER NOT NULL,   -- instances.worker_index, -1 for a plain program
    class       TEXT    NOT NULL,   -- 'crash' or 'limit'
    exit_code   INTEGER NOT NULL,   -- instances.exit_code, -1 when killed by a signal
    signal      INTEGER NOT NULL,   -- instances.signal, 0 when it exited
    crashes     INTEGER NOT NULL,   -- instances in this hour with this outcome
    first_ms    INTEGER NOT NULL,   -- the earliest of their ended_at
    last_ms     INTEGER NOT NULL,   -- the latest of their ended_at
    PRIMARY KEY (hour, program_id, worker, class, exit_code, signal)
) WITHOUT ROWID;

-- The rows for the existing history (the same statement as HistStore's CrashRollup.rebuildSQL with
-- the whole time range).
INSERT INTO crash_hours (hour, program_id, worker, class, exit_code, signal, crashes, first_ms, last_ms)
SELECT i.ended_at - i.ended_at % 3600000, i.program_id, coalesce(i.worker_index, -1), i.class,
       coalesce(i.exit_code, -1), coalesce(i.signal, 0), COUNT(*), MIN(i.ended_at), MAX(i.ended_at)
FROM instances i
WHERE i.class IN ('crash', 'limit') AND i.ended_at IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM operator_effects f WHERE f.instance_id = i.id AND f.effect = 'ended')
  AND i.ended_at >= -9223372036854775807 AND i.ended_at < 9223372036854775807
GROUP BY 1, 2, 3, 4, 5, 6;

-- program_states (migrations/0002_views.sql), recreated with the same columns and rows: only how
-- open_instances is counted changed (histctl status reads this view for every program).
DROP VIEW program_states;
CREATE VIEW program_states AS
WITH
latest_run AS (
    SELECT id, stopped_at FROM runs ORDER BY started_at DESC, id DESC LIMIT 1
),
-- The latest run's open instances counted once for all programs (instances_open, one table row each),
-- not once per program (that read every open row once per program).
open_counts AS (
    SELECT o.program_id AS program_id, COUNT(*) AS n FROM instances o
    WHERE o.run_id = (SELECT id FROM latest_run) AND o.ended_at IS NULL
    GROUP BY o.program_id
),
last_inst AS (
    SELECT p.id AS program_id, p.name AS program, p.kind AS program_kind,
           (SELECT i.id FROM instances i WHERE i.program_id = p.id
             ORDER BY i.started_at DESC, i.id DESC LIMIT 1) AS instance_id,
           COALESCE(oc.n, 0) AS open_instances
    FROM programs p
    LEFT JOIN open_counts oc ON oc.program_id = p.id
)

    SELECT li.program_id, li.program, li.program_kind, li.open_instances,
           i.id AS instance_id, i.pid, i.started_at, i.ended_at, i.class, i.run_id,
           CASE
             WHEN li.program_kind = 'pool' AND li.open_instances > 0
                  AND (SELECT stopped_at FROM latest_run) IS NULL THEN 'running'
             WHEN i.id IS NULL THEN
               COALESCE((SELECT CASE e.kind WHEN 5 THEN 'failed' ELSE 'backoff' END
                           FROM events e WHERE e.kind IN (5 /* gave_up */, 9 /* spawn_failed */)
                            AND e.program_id = li.program_id
                          ORDER BY e.ts DESC, e.id DESC LIMIT 1), 'never_started')
             WHEN i.ended_at IS NULL THEN
               CASE
                 WHEN i.run_id IS NOT (SELECT id FROM latest_run)
                      OR (SELECT stopped_at FROM latest_run) IS NOT NULL THEN 'unknown'
                 WHEN EXISTS (SELECT 1 FROM events e WHERE e.kind = 6 /* stop_requested */
                                 AND e.ts >= i.started_at AND e.program_id = li.program_id
                                 AND e.instance_id = i.id) THEN 'stopping'
                 ELSE 'running'
               END
             WHEN i.run_id IS NOT (SELECT id FROM latest_run)
                  OR (SELECT stopped_at FROM latest_run) IS NOT NULL THEN 'stopped'
             ELSE COALESCE(
               (SELECT CASE e.kind WHEN 5 THEN 'failed' ELSE 'backoff' END
                  FROM events e
                 WHERE e.kind IN (4 /* restart_scheduled */, 5 /* gave_up */, 9 /* spawn_failed */)
                   AND e.ts >= i.ended_at AND e.program_id = li.program_id
                 ORDER BY e.ts DESC, e.id DESC LIMIT 1),
               CASE i.class WHEN 'clean' THEN 'exited' WHEN 'crash' THEN 'exited'
                            WHEN 'spawn_failed' THEN 'failed' ELSE 'stopped' END)
           END AS state
    FROM last_inst li
    LEFT JOIN instances i ON i.id = li.instance_id;
