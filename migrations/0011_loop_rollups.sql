-- 0011_loop_rollups: derived, exact per-hour summaries for `histctl loops` and for histd's restore_state
-- (docs/SCHEMA.md, "Rollups"). Never edit once landed.
--
-- loop_hours: per UTC hour of the crash time, program and pool worker slot, the crashes that are in a
-- crash loop by histctl loops' default definition (at least 3 crashes inside one sliding window of
-- 10 minutes: HistStore CrashLoopMembers). A crash is what queries/loops.sql counts: an instance that
-- ended as a crash or a limit kill, less the ends an operator caused (operator_effects 'ended', 0004),
-- and a spawn_failed event. Membership is over the whole stored history of the program. It is kept
-- exact by the writer (HistStore LoopRollup: after each transaction's crashes, the crashes whose
-- membership they change, a few on each side, are found and added) and by retention (which recomputes
-- the hours next to what it removed). histctl loops reads the hours that lie at least one window inside
-- its range here, and only the edges from raw rows.
CREATE TABLE loop_hours (
    hour               INTEGER NOT NULL,   -- start of the UTC hour of the crash (ms): ts - ts % 3600000
    program_id         INTEGER NOT NULL,   -- programs.id
    worker             INTEGER NOT NULL,   -- pool worker slot, -1 for a plain program
    members            INTEGER NOT NULL,   -- crashes in this hour that are in a loop
    first_ms           INTEGER NOT NULL,   -- the earliest of them
    last_ms            INTEGER NOT NULL,   -- the latest of them
    longest_uptime_ms  INTEGER,            -- the longest uptime among them (NULL: only spawn failures)
    PRIMARY KEY (hour, program_id, worker)
) WITHOUT ROWID;

-- program_hours: per program and UTC hour, its start, restart_scheduled and gave_up events, and the
-- longest restart delay scheduled (restart_scheduled's value). Kept exact by the writer (one UPSERT per
-- key per transaction) and by retention. Keyed by program first: histctl loops reads the whole hours
-- of each loop's span for its longest backoff, histd's restore_state finds each program's newest hour
-- with a lifecycle fact (one seek) and reads only that hour's events.
CREATE TABLE program_hours (
    program_id            INTEGER NOT NULL,   -- programs.id
    hour                  INTEGER NOT NULL,   -- start of the UTC hour of events.ts (ms)
    starts                INTEGER NOT NULL,   -- events of kind start (1)
    restarts              INTEGER NOT NULL,   -- events of kind restart_scheduled (4)
    gave_ups              INTEGER NOT NULL,   -- events of kind gave_up (5)
    max_restart_delay_ms  INTEGER,            -- the largest restart_scheduled value; NULL when restarts = 0
    PRIMARY KEY (program_id, hour)
) WITHOUT ROWID;

-- The rows for the existing history: the same statements as HistStore's LoopRollup.rebuildSQL and
-- ProgramHours.rebuildSQL with the whole time range (-2^62 ..< 2^62).
WITH
c AS (
    SELECT i.program_id AS p, i.ended_at AS ts, coalesce(i.worker_index, -1) AS w, i.uptime_ms AS up
    FROM instances i
    WHERE i.class IN ('crash', 'limit') AND i.ended_at >= -4611686018427387904 - 600000 AND i.ended_at < 4611686018427387904 + 600000
      AND NOT EXISTS (SELECT 1 FROM operator_effects f WHERE f.instance_id = i.id AND f.effect = 'ended')
    UNION ALL
    SELECT e.program_id, e.ts, coalesce(json_extract(e.detail, '$.worker_index'), -1), NULL
    FROM events e
    WHERE e.kind = 9 AND e.program_id IS NOT NULL AND e.ts >= -4611686018427387904 - 600000 AND e.ts < 4611686018427387904 + 600000
),
m AS (
    SELECT p, ts, w, up, lag(ts, 2) OVER win AS b2, lag(ts, 1) OVER win AS b1, lead(ts, 1) OVER win AS a1, lead(ts, 2) OVER win AS a2
    FROM c WINDOW win AS (PARTITION BY p ORDER BY ts)
)
INSERT INTO loop_hours (hour, program_id, worker, members, first_ms, last_ms, longest_uptime_ms)
SELECT ts - ts % 3600000, p, w, COUNT(*), MIN(ts), MAX(ts), MAX(up)
FROM m
WHERE ts >= -4611686018427387904 AND ts < 4611686018427387904
  AND (a2 - ts <= 600000 OR a1 - b1 <= 600000 OR ts - b2 <= 600000)
GROUP BY 1, 2, 3;

INSERT INTO program_hours (program_id, hour, starts, restarts, gave_ups, max_restart_delay_ms)
SELECT e.program_id, e.ts - e.ts % 3600000, SUM(e.kind = 1), SUM(e.kind = 4), SUM(e.kind = 5),
       MAX(CASE WHEN e.kind = 4 THEN e.value END)
FROM events e
WHERE e.kind IN (1, 4, 5) AND e.program_id IS NOT NULL AND e.ts >= -4611686018427387904 AND e.ts < 4611686018427387904
GROUP BY 1, 2;
