-- 0002_views: friendly views for people's own SQL. These names and columns are a public interface
-- (docs/SCHEMA.md); change them only by adding a new migration that drops and recreates a view.
--
-- Every view repeats the raw integer ms timestamp (ts, started_at, ...) next to an ISO-8601 UTC text
-- form (time, started, ...) so that filters can use the indexed integer and people can read the text.

-- Signal numbers and names (Linux x86_64/arm64), for joins: instances.signal -> name.
CREATE TABLE signal_names (
    number  INTEGER PRIMARY KEY,
    name    TEXT NOT NULL UNIQUE
);
INSERT INTO signal_names (number, name) VALUES
    (1, 'SIGHUP'), (2, 'SIGINT'), (3, 'SIGQUIT'), (4, 'SIGILL'), (5, 'SIGTRAP'), (6, 'SIGABRT'),
    (7, 'SIGBUS'), (8, 'SIGFPE'), (9, 'SIGKILL'), (10, 'SIGUSR1'), (11, 'SIGSEGV'), (12, 'SIGUSR2'),
    (13, 'SIGPIPE'), (14, 'SIGALRM'), (15, 'SIGTERM'), (16, 'SIGSTKFLT'), (17, 'SIGCHLD'),
    (18, 'SIGCONT'), (19, 'SIGSTOP'), (20, 'SIGTSTP'), (21, 'SIGTTIN'), (22, 'SIGTTOU'),
    (23, 'SIGURG'), (24, 'SIGXCPU'), (25, 'SIGXFSZ'), (26, 'SIGVTALRM'), (27, 'SIGPROF'),
    (28, 'SIGWINCH'), (29, 'SIGIO'), (30, 'SIGPWR'), (31, 'SIGSYS');

-- The whole timeline with names instead of numbers.
CREATE VIEW event_log AS
SELECT e.id                                                        AS id,
       e.ts                                                        AS ts,
       strftime('%Y-%m-%dT%H:%M:%fZ', e.ts / 1000.0, 'unixepoch')  AS time,
       k.name                                                      AS kind,
       p.name                                                      AS program,
       e.run_id                                                    AS run_id,
       e.instance_id                                               AS instance_id,
       i.pid                                                       AS pid,
       e.value                                                     AS value,
       e.detail                                                    AS detail
-- CROSS JOIN makes event_kinds the outer loop, so `WHERE ts BETWEEN ...` becomes one events_kind_ts range per kind.
FROM event_kinds k
CROSS JOIN events e ON e.kind = k.id
LEFT JOIN programs p ON p.id = e.program_id
LEFT JOIN instances i ON i.id = e.instance_id;

-- One row per spawned process with its program, run and outcome.
-- status: 'running' (no end recorded, its run still open), 'unknown' (no end recorded, histd died), or the class.
CREATE VIEW process_lifetimes AS
SELECT i.id                                                              AS instance_id,
       p.name                                                            AS program,
       i.worker_index                                                    AS worker_index,
       i.run_id                                                          AS run_id,
       i.pid                                                             AS pid,
       i.start_ticks                                                     AS start_ticks,
       i.started_at                                                      AS started_at,
       strftime('%Y-%m-%dT%H:%M:%fZ', i.started_at / 1000.0, 'unixepoch') AS started,
       i.ended_at                                                        AS ended_at,
       strftime('%Y-%m-%dT%H:%M:%fZ', i.ended_at / 1000.0, 'unixepoch')   AS ended,
       i.uptime_ms / 1000.0                                              AS uptime_s,
       i.exit_code                                                       AS exit_code,
       i.signal                                                          AS signal,
       s.name                                                            AS signal_name,
       i.core_dumped                                                     AS core_dumped,
       CASE WHEN i.class IS NOT NULL THEN i.class
            WHEN r.stopped_at IS NULL THEN 'running'
            ELSE 'unknown' END                                           AS status
FROM instances i
JOIN programs p ON p.id = i.program_id
LEFT JOIN runs r ON r.id = i.run_id
LEFT JOIN signal_names s ON s.number = i.signal;

-- Crashes and limit kills, one row per ended instance, with the restart delay histd scheduled after it
-- (NULL if histd gave up or did not restart). Filter on ts (= instances.ended_at, indexed).
CREATE VIEW crashes AS
SELECT i.id                                                           AS instance_id,
       i.ended_at                                                     AS ts,
       strftime('%Y-%m-%dT%H:%M:%fZ', i.ended_at / 1000.0, 'unixepoch') AS time,
       p.name                                                         AS program,
       i.worker_index                                                 AS worker_index,
       i.pid                                                          AS pid,
       i.exit_code                                                    AS exit_code,
       i.signal                                                       AS signal,
       s.name                                                         AS signal_name,
       i.core_dumped                                                  AS core_dumped,
       i.uptime_ms / 1000.0                                           AS uptime_s,
       i.class                                                        AS reason,
       (SELECT r.value FROM events r
         WHERE r.kind = 4 AND r.ts >= i.ended_at AND r.ts <= i.ended_at + 60000 AND r.instance_id = i.id
         ORDER BY r.ts LIMIT 1) / 1000.0                              AS restart_delay_s,
       i.stderr_tail                                                  AS stderr_tail
FROM instances i
JOIN programs p ON p.id = i.program_id
LEFT JOIN signal_names s ON s.number = i.signal
WHERE i.class IN ('crash', 'limit') AND i.ended_at IS NOT NULL;

-- Snapshots with their time and CPU% derived from the previous sample of the same instance:
-- cpu_percent = Δ(utime+stime) ticks / 100 ticks/s / Δt s * 100 (100 = one full core), never negative,
-- NULL when the instance has no sample in the previous sweep (its first sample). The previous sample is
-- found by primary key (previous sweep id, instance id), not by a window function, so a filter on ts
-- reaches sweeps_ts. Filter on ts (and instance_id).
CREATE VIEW snapshots_with_rates AS
SELECT c.sweep_id                                                  AS sweep_id,
       cw.ts                                                       AS ts,
       strftime('%Y-%m-%dT%H:%M:%fZ', cw.ts / 1000.0, 'unixepoch') AS time,
       c.instance_id                                               AS instance_id,
       p.name                                                      AS program,
       i.pid                                                       AS pid,
       c.state AS state, c.utime AS utime, c.stime AS stime, c.rss_kb AS rss_kb, c.vsz_kb AS vsz_kb,
       c.threads AS threads, c.fds AS fds, c.procs AS procs,
       CASE WHEN pw.ts IS NULL OR cw.ts <= pw.ts THEN NULL
            ELSE max(0.0, (c.utime + c.stime - ps.utime - ps.stime) * 1000.0 / (cw.ts - pw.ts)) END AS cpu_percent
FROM snapshots c
JOIN sweeps cw ON cw.id = c.sweep_id
LEFT JOIN snapshots ps ON ps.sweep_id = (SELECT max(q.id) FROM sweeps q WHERE q.id < c.sweep_id)
     AND ps.instance_id = c.instance_id
LEFT JOIN sweeps pw ON pw.id = ps.sweep_id
LEFT JOIN instances i ON i.id = c.instance_id
LEFT JOIN programs p ON p.id = i.program_id;

-- limit_breach events with their fields unpacked. value and threshold are in the limit's unit
-- (bytes for max_memory_mb and cgroup_memory, tasks for tasks_max).
CREATE VIEW limit_breaches AS
SELECT e.id                                                        AS event_id,
       e.ts                                                        AS ts,
       strftime('%Y-%m-%dT%H:%M:%fZ', e.ts / 1000.0, 'unixepoch')  AS time,
       p.name                                                      AS program,
       e.instance_id                                               AS instance_id,
       i.pid                                                       AS pid,
       json_extract(e.detail, '$.limit')                           AS limit_name,
       e.value                                                     AS value,
       json_extract(e.detail, '$.threshold')                       AS threshold,
       json_extract(e.detail, '$.action')                          AS action
FROM events e
LEFT JOIN programs p ON p.id = e.program_id
LEFT JOIN instances i ON i.id = e.instance_id
WHERE e.kind = 8;

-- Spans during which histd could not record everything (queue full, disk full, read-only, locked).
-- ts = from_ms (where the hole begins).
CREATE VIEW recording_gaps AS
SELECT e.id                                                          AS event_id,
       e.ts                                                          AS ts,
       json_extract(e.detail, '$.from_ms')                           AS from_ms,
       json_extract(e.detail, '$.to_ms')                             AS to_ms,
       strftime('%Y-%m-%dT%H:%M:%fZ', json_extract(e.detail, '$.from_ms') / 1000.0, 'unixepoch') AS from_time,
       strftime('%Y-%m-%dT%H:%M:%fZ', json_extract(e.detail, '$.to_ms') / 1000.0, 'unixepoch')   AS to_time,
       e.value                                                       AS dropped,
       json_extract(e.detail, '$.reason')                            AS reason,
       json_extract(e.detail, '$.dropped_by_kind')                   AS dropped_by_kind,
       e.run_id                                                      AS run_id
FROM events e
WHERE e.kind = 15;

-- Pool size changes.
CREATE VIEW scale_events AS
SELECT e.id                                                        AS event_id,
       e.ts                                                        AS ts,
       strftime('%Y-%m-%dT%H:%M:%fZ', e.ts / 1000.0, 'unixepoch')  AS time,
       p.name                                                      AS pool,
       CASE e.kind WHEN 10 THEN 'up' ELSE 'down' END               AS direction,
       json_extract(e.detail, '$.from')                            AS from_size,
       e.value                                                     AS to_size,
       json_extract(e.detail, '$.signal')                          AS cpu_signal
FROM events e
LEFT JOIN programs p ON p.id = e.program_id
WHERE e.kind IN (10, 11);

-- Zombie-parent intervals with readable times and duration.
CREATE VIEW zombie_parent_intervals AS
SELECT z.id AS id, z.parent_pid AS parent_pid, z.parent_start_ticks AS parent_start_ticks,
       z.parent_name AS parent_name, z.parent_cmdline AS parent_cmdline,
       z.max_zombies AS max_zombies, z.last_zombies AS last_zombies,
       z.first_seen AS first_seen_ms, z.last_seen AS last_seen_ms,
       strftime('%Y-%m-%dT%H:%M:%fZ', z.first_seen / 1000.0, 'unixepoch') AS first_seen,
       strftime('%Y-%m-%dT%H:%M:%fZ', z.last_seen / 1000.0, 'unixepoch')  AS last_seen,
       (z.last_seen - z.first_seen) / 1000.0                               AS duration_s,
       z.scans AS scans
FROM zombie_parents z;

-- Orphan intervals with readable times, age at last sighting and the program they came from.
CREATE VIEW orphan_intervals AS
SELECT o.id AS id, o.pid AS pid, o.start_ticks AS start_ticks, o.name AS name, o.cmdline AS cmdline,
       o.user AS user, o.reason AS reason, p.name AS program,
       o.started_at AS started_at_ms,
       strftime('%Y-%m-%dT%H:%M:%fZ', o.started_at / 1000.0, 'unixepoch') AS started,
       o.first_seen AS first_seen_ms, o.last_seen AS last_seen_ms,
       strftime('%Y-%m-%dT%H:%M:%fZ', o.first_seen / 1000.0, 'unixepoch') AS first_seen,
       strftime('%Y-%m-%dT%H:%M:%fZ', o.last_seen / 1000.0, 'unixepoch')  AS last_seen,
       (o.last_seen - o.started_at) / 1000.0                               AS age_s,
       o.scans AS scans
FROM orphans o
LEFT JOIN programs p ON p.id = o.program_id;

-- The last known state of every program and pool, derived from its last instance and the
-- lifecycle events after it (index lookups only: instances_program_started, instances_open,
-- events_kind_ts). histctl status and loops read it; it answers "what is X doing now?" by SQL too.
--   running / stopping   the last instance has no end yet and the latest supervisor run is open
--                        (stopping: a stop_requested for it was recorded); a pool is running while
--                        any worker of the latest run is open
--   backoff / failed     it ended and the last restart_scheduled/spawn_failed or gave_up says so
--   exited / stopped     it ended on its own / histd stopped it (or the supervisor is not running)
--   unknown              no end recorded, but its supervisor run is over (histd died or was stopped)
--   never_started        no instance recorded
-- Columns: program_id, program, program_kind, open_instances (open instances in the latest run),
-- instance_id, pid, started_at, ended_at, class, run_id (of the last instance), state.
CREATE VIEW program_states AS
WITH
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
