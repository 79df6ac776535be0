-- status: each program's last known state and how fresh the record is.
-- Parameters:
--   :now       the current time, ms since epoch UTC (for uptime and "the last hour")
--   :programs  JSON array of program names to keep; '[]' keeps all
-- Columns:
--   program          program or pool name
--   kind             'program' or 'pool'
--   state            last known state (see the state CTE below)
--   pid              pid of the running instance (NULL for pools and when not running)
--   workers          open instances in the latest supervisor run
--   uptime_s         how long the running instance has run, seconds
--   restarts_1h      restarts scheduled in the hour before :now
--   last_exit_at     when the last ended instance ended (ms UTC)
--   last_exit_code   its exit code (NULL when signaled)
--   last_signal      its signal (shown by name)
--   last_exit_class  clean, crash, stopped, killed, limit or spawn_failed
--   last_event       newest event time in the database, any program (ms UTC)
--   last_snapshot    newest sampling sweep (ms UTC)
--   run_open         1 while the latest supervisor run has not stopped (it may also have died:
--                    compare last_event/last_snapshot with the current time)
WITH
-- The last known state of every program, derived from its last instance and the lifecycle events
-- after it (all index lookups: instances_program_started, instances_open, events_kind_ts):
--   running / stopping   the last instance has no end yet and the latest supervisor run is open
--                        (stopping: a stop_requested for it was recorded); a pool is running while
--                        any worker of the latest run is open
--   backoff / failed     it ended and the last restart_scheduled/spawn_failed or gave_up says so
--   exited / stopped     it ended on its own / histd stopped it (or the supervisor is not running)
--   unknown              no end recorded, but its supervisor run is over (histd died or was stopped)
--   never_started        no instance recorded
latest_run AS (
    SELECT id, stopped_at FROM runs ORDER BY started_at DESC, id DESC LIMIT 1
),
last_inst AS (
    SELECT p.id AS program_id, p.name AS program, p.kind AS program_kind,
           (SELECT i.id FROM instances i WHERE i.program_id = p.id
             ORDER BY i.started_at DESC, i.id DESC LIMIT 1) AS instance_id,
           (SELECT COUNT(*) FROM instances o WHERE o.run_id = (SELECT id FROM latest_run)
               AND o.ended_at IS NULL AND o.program_id = p.id) AS open_instances
    FROM programs p
),
state AS (
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
    LEFT JOIN instances i ON i.id = li.instance_id
)
,
last_end AS (
    SELECT s.program_id,
           (SELECT x.id FROM instances x WHERE x.program_id = s.program_id AND x.ended_at IS NOT NULL
             ORDER BY x.started_at DESC, x.id DESC LIMIT 1) AS instance_id
    FROM state s
)
SELECT
    s.program AS program,
    s.program_kind AS kind,
    s.state AS state,
    CASE WHEN s.program_kind = 'program' AND s.state IN ('running', 'stopping') THEN s.pid END AS pid,
    s.open_instances AS workers,
    CASE WHEN s.program_kind = 'program' AND s.state IN ('running', 'stopping')
         THEN round((:now - s.started_at) / 1000.0, 3) END AS uptime_s,
    (SELECT COUNT(*) FROM events e WHERE e.kind = 4 AND e.ts >= :now - 3600000 AND e.ts <= :now
        AND e.program_id = s.program_id) AS restarts_1h,
    x.ended_at AS last_exit_at,
    x.exit_code AS last_exit_code,
    x.signal AS last_signal,
    x.class AS last_exit_class,
    -- One seek per kind at the end of its events_kind_ts range (events has no index on ts alone).
    (SELECT MAX((SELECT MAX(e.ts) FROM events e WHERE e.kind = k.id)) FROM event_kinds k) AS last_event,
    (SELECT MAX(ts) FROM sweeps) AS last_snapshot,
    (SELECT stopped_at IS NULL FROM latest_run) AS run_open
FROM state s
LEFT JOIN last_end le ON le.program_id = s.program_id
LEFT JOIN instances x ON x.id = le.instance_id
WHERE json_array_length(:programs) = 0 OR s.program IN (SELECT value FROM json_each(:programs))
ORDER BY s.program;
