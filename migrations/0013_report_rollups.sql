-- 0013_report_rollups: derived, exact per-instance restart delays (docs/SCHEMA.md, "Rollups").
-- Never edit once landed.
--
-- restart_delays holds, per instance, the restart_scheduled event histd wrote for it after its end: the
-- first one (by time, then event id) within 60 s after instances.ended_at whose instance_id is the
-- instance. That is the crashes listing's restart_delay_s (queries/crashes.sql, the crashes view of
-- migrations/0002_views.sql), which read it with one correlated events subquery per listed crash (about
-- 1 s for a day of 67 k crashes); with this table the listing is a primary-key join. It is kept exact by
-- the writer (HistStore RestartDelays: the restart_scheduled is written in the same transaction, after
-- the end it follows, which is where the engine puts it) and by retention (a pruned restart_scheduled
-- recomputes its instance's row; a pruned instance takes its row with it). An instance with no such
-- event has no row. scheduled_at keeps "the first by time" exact even if two events qualify.
CREATE TABLE restart_delays (
    instance_id   INTEGER PRIMARY KEY,   -- instances.id
    delay_ms      INTEGER,               -- the restart_scheduled event's value: the backoff, ms (histd always writes one)
    scheduled_at  INTEGER NOT NULL       -- that event's ts (ms UTC)
);

-- The rows for the existing history: the same statement as HistStore's RestartDelays.rebuildAllSQL (the
-- rule of its per-instance rebuildSQL, set-based over every restart_scheduled event).
INSERT INTO restart_delays (instance_id, delay_ms, scheduled_at)
SELECT instance_id, value, ts FROM (
    SELECT r.instance_id AS instance_id, r.value AS value, r.ts AS ts,
           row_number() OVER (PARTITION BY r.instance_id ORDER BY r.ts, r.id) AS n
    FROM events r
    JOIN instances i ON i.id = r.instance_id
    WHERE r.kind = 4 /* restart_scheduled */ AND i.ended_at IS NOT NULL
      AND r.ts >= i.ended_at AND r.ts <= i.ended_at + 60000
)
WHERE n = 1;
