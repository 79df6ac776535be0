-- top: time travel. The sampling sweep nearest to :at, one row per supervised instance, sorted by
-- CPU% or RSS, through the snapshots_with_rates view: CPU% is the tick delta to the same instance's
-- sample in the previous sweep divided by the time between the two sweeps (100 ticks per second;
-- 100% = one core), NULL when the instance has no sample in the previous sweep.
-- Parameters:
--   :at        the moment to look at, ms since epoch UTC
--   :sort      'cpu' or 'rss'
--   :limit     at most this many rows
--   :programs  JSON array of program names, or pool workers as POOL.INDEX, to keep; '[]' keeps all
-- Columns:
--   time      the sweep's time (ms UTC)
--   program   program or pool name
--   worker    pool worker slot, NULL for plain programs
--   pid       the instance's root pid
--   state     root process state letter (R S D Z T ...)
--   cpu_pct   CPU% of the whole process tree since the previous sweep, NULL without a sample there
--   rss_kb    resident memory of the tree, KiB
--   vsz_kb    virtual memory of the tree, KiB
--   threads   threads in the tree
--   fds       open fds of the root process
--   procs     processes in the tree
-- Plan: sweeps_ts (two one-row seeks), then snapshots by primary key (sweep_id, instance_id) for this
-- sweep and for the previous one; instances and programs by primary key.
WITH
nearest AS (
    SELECT id, ts FROM (
        SELECT * FROM (SELECT id, ts FROM sweeps WHERE ts <= :at ORDER BY ts DESC LIMIT 1)
        UNION ALL
        SELECT * FROM (SELECT id, ts FROM sweeps WHERE ts > :at ORDER BY ts ASC LIMIT 1)
    )
    ORDER BY abs(ts - :at), ts LIMIT 1
)
SELECT s.ts AS time, s.program AS program, i.worker_index AS worker, s.pid AS pid, s.state AS state,
       round(s.cpu_percent, 1) AS cpu_pct, s.rss_kb AS rss_kb, s.vsz_kb AS vsz_kb, s.threads AS threads,
       s.fds AS fds, s.procs AS procs
FROM snapshots_with_rates s
LEFT JOIN instances i ON i.id = s.instance_id
WHERE s.sweep_id = (SELECT id FROM nearest)
  AND (json_array_length(:programs) = 0 OR s.program IN (SELECT value FROM json_each(:programs))
       OR s.program || '.' || i.worker_index IN (SELECT value FROM json_each(:programs)))
ORDER BY CASE WHEN :sort = 'rss' THEN s.rss_kb ELSE s.cpu_percent END DESC NULLS LAST, s.rss_kb DESC, s.program, i.worker_index
LIMIT :limit;
