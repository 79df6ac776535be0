-- top: time travel. The sampling sweep nearest to :at, one row per supervised instance, sorted by
-- CPU% or RSS. CPU% is the tick delta to the same instance's previous sample divided by the time
-- between the two sweeps (100 ticks per second; 100% = one core).
-- Parameters:
--   :at        the moment to look at, ms since epoch UTC
--   :sort      'cpu' or 'rss'
--   :limit     at most this many rows
--   :programs  JSON array of program names to keep; '[]' keeps all
-- Columns:
--   time      the sweep's time (ms UTC)
--   program   program or pool name
--   worker    pool worker slot, NULL for plain programs
--   pid       the instance's root pid
--   state     root process state letter (R S D Z T ...)
--   cpu_pct   CPU% of the whole process tree since the previous sample, NULL without one
--   rss_kb    resident memory of the tree, KiB
--   vsz_kb    virtual memory of the tree, KiB
--   threads   threads in the tree
--   fds       open fds of the root process
--   procs     processes in the tree
-- Plan: sweeps_ts (two one-row seeks), snapshots primary key, snapshots_instance for the previous sample.
WITH
nearest AS (
    SELECT id, ts FROM (
        SELECT * FROM (SELECT id, ts FROM sweeps WHERE ts <= :at ORDER BY ts DESC LIMIT 1)
        UNION ALL
        SELECT * FROM (SELECT id, ts FROM sweeps WHERE ts > :at ORDER BY ts ASC LIMIT 1)
    )
    ORDER BY abs(ts - :at), ts LIMIT 1
),
cur AS (
    SELECT n.ts, s.instance_id, s.state, s.utime + s.stime AS ticks, s.rss_kb, s.vsz_kb, s.threads, s.fds, s.procs,
           (SELECT prev.sweep_id FROM snapshots prev
             WHERE prev.instance_id = s.instance_id AND prev.sweep_id < s.sweep_id
             ORDER BY prev.sweep_id DESC LIMIT 1) AS prev_sweep
    FROM nearest n
    JOIN snapshots s ON s.sweep_id = n.id
),
rated AS (
    SELECT cur.*,
           CASE WHEN pw.ts < cur.ts
                THEN round((cur.ticks - (ps.utime + ps.stime)) * 1000.0 / (cur.ts - pw.ts), 1) END AS cpu_pct
    FROM cur
    LEFT JOIN snapshots ps ON ps.sweep_id = cur.prev_sweep AND ps.instance_id = cur.instance_id
    LEFT JOIN sweeps pw ON pw.id = cur.prev_sweep
)
SELECT r.ts AS time, p.name AS program, i.worker_index AS worker, i.pid AS pid, r.state AS state,
       r.cpu_pct AS cpu_pct, r.rss_kb AS rss_kb, r.vsz_kb AS vsz_kb, r.threads AS threads, r.fds AS fds, r.procs AS procs
FROM rated r
JOIN instances i ON i.id = r.instance_id
JOIN programs p ON p.id = i.program_id
WHERE json_array_length(:programs) = 0 OR p.name IN (SELECT value FROM json_each(:programs))
ORDER BY CASE WHEN :sort = 'rss' THEN r.rss_kb ELSE r.cpu_pct END DESC NULLS LAST, r.rss_kb DESC, p.name, i.worker_index
LIMIT :limit;
