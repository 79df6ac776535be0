-- 0014_restart_minutes: a derived, exact per-minute summary of the restarts that happened, for
-- `histctl status`'s restarts_1h (docs/SCHEMA.md, "Rollups"). Never edit once landed.
--
-- A restart happened when its restart_scheduled event (kind 4) is followed, in the same run, by a
-- start (kind 1) of the same program within its delay + 60 s (value + 60000 ms after it); one that
-- shutdown cancelled has no start. Restarts after an end an operator caused (operator_effects 'ended',
-- 0004) do not count. restart_minutes holds, per program and minute of the restart_scheduled event,
-- how many happened, and by when every start that can make one of them happen is due. It is kept exact
-- by the writer (HistStore RestartRollup: the transaction's restarts and starts are matched in memory
-- against the run's restarts still waiting for their start; one UPSERT per key) and by retention (which
-- recomputes the minutes whose restarts or matching starts it deletes). histctl status reads the whole
-- minutes of its hour here whose restarts were all due by its "now", and only the rest from events.
CREATE TABLE restart_minutes (
    program_id  INTEGER NOT NULL,   -- programs.id of the restart_scheduled events
    minute      INTEGER NOT NULL,   -- ts - ts % 60000 of the restart_scheduled events (ms)
    restarts    INTEGER NOT NULL,   -- of them, those that happened and followed no operator-caused end (may be 0)
    reach_ms    INTEGER NOT NULL,   -- max(coalesce(value, 0)) + 120000 over all of them: no start after
                                    -- minute + reach_ms can change `restarts` (each is due by ts + value + 60 s,
                                    -- ts < minute + 60 s)
    PRIMARY KEY (program_id, minute)
) WITHOUT ROWID;
-- Minutes with a restart delay over an hour (rare): a start can make them happen long after the minute.
-- Retention and the writer's out-of-order path find a start's minutes as the hour and 2 minutes before it
-- plus these.
CREATE INDEX restart_minutes_far ON restart_minutes(minute + reach_ms) WHERE reach_ms > 3720000;

-- The rows for the existing history: the same statement as HistStore's RestartRollup.rebuildSQL with
-- the whole time range and every program.
WITH
r AS (
    SELECT e.program_id AS p, e.run_id AS run, e.ts AS ts, e.value AS value, e.instance_id AS inst
    FROM events e
    WHERE e.kind = 4 AND e.program_id IS NOT NULL AND e.ts > -4611686018427387904 - 60000 AND e.ts < 4611686018427387904 + 60000
      AND e.ts - e.ts % 60000 >= -4611686018427387904 AND e.ts - e.ts % 60000 < 4611686018427387904
      AND (NULL IS NULL OR e.program_id = NULL)
),
s AS (
    SELECT b.program_id AS p, b.run_id AS run, b.ts AS ts
    FROM events b
    WHERE b.kind = 1 AND b.program_id IS NOT NULL AND b.ts > -4611686018427387904 - 60000 AND b.ts <= (SELECT max(ts + value + 60000) FROM r)
      AND (NULL IS NULL OR b.program_id = NULL)
),
m AS (
    SELECT k, p, ts, value, inst,
           MIN(CASE WHEN k = 1 THEN ts END) OVER (PARTITION BY p, run ORDER BY ts, k DESC
                                                  ROWS BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING) AS next_start
    FROM (SELECT 4 AS k, p, run, ts, value, inst FROM r UNION ALL SELECT 1, p, run, ts, NULL, NULL FROM s)
)
INSERT INTO restart_minutes (program_id, minute, restarts, reach_ms)
SELECT p, ts - ts % 60000,
       COUNT(CASE WHEN next_start <= ts + value + 60000
                   AND NOT EXISTS (SELECT 1 FROM operator_effects f WHERE f.instance_id = m.inst AND f.effect = 'ended')
                  THEN 1 END),
       MAX(coalesce(value, 0)) + 120000
FROM m
WHERE k = 4
GROUP BY 1, 2;
