-- 0004_operator_actions: who asked histd to act, and which processes that touched. Never edit once landed.
--
-- An operator action (a control-socket request that acts, or any refused request) is an event of kind
-- 20 'operator_action': value = the peer's uid, detail = {seq, action, programs, result, message, gid,
-- user, pid, comm, argument}. seq numbers the actions within one run (runs.id); the lifecycle facts an
-- action causes carry it, and the writer turns them into operator_effects rows.
INSERT INTO event_kinds (id, name) VALUES (20, 'operator_action');

-- One row per (instance, what the action did to it):
--   stopped   histd asked the instance to stop for the action (stop, restart)
--   ended     the instance ended because of the action (stop, restart; a signal the operator sent
--             through histd that ended it within stop_timeout): such an end is never a crash in the
--             crashes view, histctl crashes/loops, or status's restarts_1h
--   started   the instance was started for the action (start, restart)
CREATE TABLE operator_effects (
    instance_id INTEGER NOT NULL REFERENCES instances(id),
    effect      TEXT    NOT NULL CHECK (effect IN ('stopped', 'ended', 'started')),
    run_id      INTEGER NOT NULL REFERENCES runs(id),
    action_seq  INTEGER NOT NULL,
    PRIMARY KEY (instance_id, effect, run_id, action_seq)
) WITHOUT ROWID;
CREATE INDEX operator_effects_action ON operator_effects(run_id, action_seq);

-- Every operator action, oldest first by id. programs is a JSON array of the names the request gave.
-- effects counts the operator_effects rows it caused.
CREATE VIEW operator_actions AS
SELECT e.id                                            AS id,
       e.ts                                            AS ts,
       strftime('%Y-%m-%dT%H:%M:%fZ', e.ts / 1000.0, 'unixepoch') AS time,
       e.run_id                                        AS run_id,
       json_extract(e.detail, '$.seq')                 AS seq,
       json_extract(e.detail, '$.action')              AS action,
       json_extract(e.detail, '$.programs')            AS programs,
       json_extract(e.detail, '$.result')              AS result,
       json_extract(e.detail, '$.message')             AS message,
       e.value                                         AS uid,
       json_extract(e.detail, '$.gid')                 AS gid,
       json_extract(e.detail, '$.user')                AS user,
       json_extract(e.detail, '$.pid')                 AS pid,
       json_extract(e.detail, '$.comm')                AS comm,
       json_extract(e.detail, '$.argument')            AS argument,
       (SELECT COUNT(*) FROM operator_effects f
         WHERE f.run_id = e.run_id AND f.action_seq = json_extract(e.detail, '$.seq')) AS effects
FROM events e
WHERE e.kind = 20;

-- The crashes view without the ends an operator caused (same columns as crashes, 0002_views.sql).
DROP VIEW IF EXISTS crashes;
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
WHERE i.class IN ('crash', 'limit') AND i.ended_at IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM operator_effects f WHERE f.instance_id = i.id AND f.effect = 'ended');
