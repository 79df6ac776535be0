-- usage: per-program RSS and CPU over the range in :buckets equal time buckets (postmortem charts).
-- Per sweep, a program's RSS is the sum over its instances and its CPU% the sum of its instances'
-- cpu_percent from the snapshots_with_rates view (tick delta since the previous sweep, 100 ticks/s);
-- buckets average the sweeps in them.
-- Parameters:
--   :since, :until  time range, ms since epoch UTC
--   :buckets        number of buckets
--   :programs       JSON array of program names to keep; '[]' keeps all
-- Columns:
--   program   program or pool name
--   bucket    0 ..< :buckets
--   rss_kb    average RSS in the bucket, KiB
--   cpu_pct   average CPU% in the bucket, NULL when no sample had a predecessor
-- Plan: sweeps_ts range, then snapshots by primary key (this sweep and the previous one), instances and
-- programs by primary key.
WITH
per AS (
    SELECT program, sweep_id, ts, SUM(rss_kb) AS rss_kb, SUM(cpu_percent) AS cpu_pct
    FROM snapshots_with_rates
    WHERE ts >= :since AND ts < :until AND program IS NOT NULL
    GROUP BY program, sweep_id
)
SELECT program,
       CAST((ts - :since) * :buckets / (:until - :since) AS INTEGER) AS bucket,
       round(AVG(rss_kb), 1) AS rss_kb,
       round(AVG(cpu_pct), 1) AS cpu_pct
FROM per
WHERE json_array_length(:programs) = 0 OR program IN (SELECT value FROM json_each(:programs))
GROUP BY program, bucket
ORDER BY program, bucket;
