-- status: each program's last known state and how fresh the record is.
-- Parameters:
--   :now       the current time, ms since epoch UTC (for uptime and "the last hour")
--   :programs  JSON array of program names to keep; '[]' keeps all
--   :supervisor_dead  1 when the latest run is open but its histd (pid + start time, boot) is gone
--                     (histctl checks /proc: SupervisorLiveness); live states then read
--                     'unknown (histd not running since TIME)', TIME = the newest event or snapshot
-- Columns:
--   program          program or pool name
--   kind             'program' or 'pool'
--   state            last known state (the program_states view, migrations/0016_program_current.sql), except
--                    that a program histd gave up on stays 'failed' after shutdown, and
--                    'unknown (histd not running since ...)' for running/stopping/backoff ones of a dead histd
--   pid              pid of the running instance (NULL for pools and when not running)
--   workers          pools: open instances in the latest supervisor run; NULL for plain programs
--   uptime_s         how long the running instance has run, seconds
--   restarts_1h      restarts in the hour before :now that happened (scheduled, then started in the
--                    same run; not those cancelled by a shutdown), except after an end an operator caused
--                    (operator_effects, migrations/0004_operator_actions.sql)
--   last_exit_at     when the last ended instance ended (ms UTC)
--   last_exit_code   its exit code (NULL when signaled)
--   last_signal      its signal (shown by name)
--   last_exit_class  clean, crash, stopped, killed, limit or spawn_failed
--   last_event       newest event time in the database, any program (ms UTC)
--   last_snapshot    newest sampling sweep (ms UTC)
--   run_open         1 while the latest supervisor run has not stopped (it may also have died:
--                    compare last_event/last_snapshot with the current time)
WITH
dead_since AS (
    SELECT strftime('%Y-%m-%dT%H:%M:%fZ', max(
        COALESCE((SELECT MAX((SELECT MAX(e.ts) FROM events e WHERE e.kind = k.id)) FROM event_kinds k), 0),
        COALESCE((SELECT MAX(ts) FROM sweeps), 0)) / 1000.0, 'unixepoch') AS t
),
latest_run AS (
    SELECT id, stopped_at FROM runs ORDER BY started_at DESC, id DESC LIMIT 1
),
-- The state is the program_states view's (migrations/0016_program_current.sql); program_current names
-- each program's newest ended instance and its newest restart_scheduled, gave_up or spawn_failed.
state AS (
    SELECT r.program_id, r.program, r.program_kind, r.open_instances, r.instance_id, r.started_at, r.ended_at,
           r.class, r.run_id, c.ended_id,
           -- the newest restart_scheduled, gave_up or spawn_failed at or after the newest instance's end
           CASE WHEN c.mark_ts >= r.ended_at THEN c.mark_kind END AS after_end_kind,
           CASE WHEN :supervisor_dead = 1 AND r.state IN ('running', 'stopping', 'backoff') THEN NULL ELSE r.pid END AS pid,
           CASE WHEN :supervisor_dead = 1 AND r.state IN ('running', 'stopping', 'backoff')
                THEN 'unknown (histd not running since ' || (SELECT t FROM dead_since) || ')'
                ELSE r.state END AS state
    FROM program_states r
    LEFT JOIN program_current c ON c.program_id = r.program_id
),
-- Restarts in the hour before :now that happened. The whole minutes of that hour come from the
-- restart_minutes rollup (migrations/0014_restart_minutes.sql: per program and minute, the restarts that
-- happened, and by when their starts were due), up to the first minute whose starts may be due after
-- :now; the rest (the partial minutes at the edges, and from that minute on) from events, in one pass over
-- those restart_scheduled entries (an index range on (kind = 4, ts)) for all programs.
--   :rm_from, :rm_until  the whole minutes inside [:now - 1 h, :now] (both :now - 3600000 when none, or
--                        without the rollup)
rollup AS (
    SELECT r.program_id AS program_id, r.minute AS minute, r.restarts AS n, r.reach_ms AS reach_ms
    FROM programs p CROSS JOIN restart_minutes r ON r.program_id = p.id AND r.minute >= :rm_from AND r.minute < :rm_until
),
raw_from AS (
    SELECT coalesce(min(minute), :rm_until) AS t FROM rollup WHERE minute + reach_ms > :now
),
restarts AS (
    SELECT program_id, SUM(n) AS n
    FROM (
        SELECT program_id, n FROM rollup WHERE minute < (SELECT t FROM raw_from)
        UNION ALL
        SELECT e.program_id AS program_id, 1 AS n
        FROM events e
        WHERE e.kind = 4 AND ((e.ts >= :now - 3600000 AND e.ts < :rm_from) OR (e.ts >= (SELECT t FROM raw_from) AND e.ts <= :now))
          AND NOT EXISTS (SELECT 1 FROM operator_effects f WHERE f.instance_id = e.instance_id AND f.effect = 'ended')
          -- min(): one range bound for both limits (NULL value: no start, as before)
          AND EXISTS (SELECT 1 FROM events b WHERE b.kind = 1 AND b.ts >= e.ts AND b.ts <= min(e.ts + e.value + 60000, :now)
                        AND b.program_id = e.program_id AND b.run_id IS e.run_id)
    )
    GROUP BY program_id
)
SELECT
    s.program AS program,
    s.program_kind AS kind,
    -- A give-up is the last meaningful state: shutdown (which makes the view say 'stopped') keeps it.
    CASE WHEN s.state = 'stopped' AND x.id = s.instance_id AND s.after_end_kind = 5 /* gave_up */
         THEN 'failed' ELSE s.state END AS state,
    CASE WHEN s.program_kind = 'program' AND s.state IN ('running', 'stopping') THEN s.pid END AS pid,
    CASE WHEN s.program_kind = 'pool' THEN s.open_instances END AS workers,
    CASE WHEN s.program_kind = 'program' AND s.state IN ('running', 'stopping')
         THEN round((:now - s.started_at) / 1000.0, 3) END AS uptime_s,
    -- Restarts that happened: a restart_scheduled followed, in the same run, by a start of the program
    -- within its delay (+60 s of slack); one that shutdown cancelled has no start.
    COALESCE(rs.n, 0) AS restarts_1h,
    x.ended_at AS last_exit_at,
    x.exit_code AS last_exit_code,
    x.signal AS last_signal,
    x.class AS last_exit_class,
    -- One seek per kind at the end of its events_kind_ts range (events has no index on ts alone).
    (SELECT MAX((SELECT MAX(e.ts) FROM events e WHERE e.kind = k.id)) FROM event_kinds k) AS last_event,
    (SELECT MAX(ts) FROM sweeps) AS last_snapshot,
    (SELECT stopped_at IS NULL FROM latest_run) AS run_open
FROM state s
LEFT JOIN instances x ON x.id = s.ended_id
LEFT JOIN restarts rs ON rs.program_id = s.program_id
WHERE json_array_length(:programs) = 0 OR s.program IN (SELECT value FROM json_each(:programs))
ORDER BY s.program;
