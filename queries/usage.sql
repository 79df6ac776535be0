-- usage: per-program RSS and CPU over the range in :buckets equal time buckets (postmortem charts).
-- Per sweep, a program's RSS is the sum over its instances and its CPU% the sum of each instance's
-- tick delta since its previous sample in the range (100 ticks/s); buckets average the sweeps in them.
-- Parameters:
--   :since, :until  time range, ms since epoch UTC
--   :buckets        number of buckets
--   :programs       JSON array of program names to keep; '[]' keeps all
-- Columns:
--   program   program or pool name
--   bucket    0 ..< :buckets
--   rss_kb    average RSS in the bucket, KiB
--   cpu_pct   average CPU% in the bucket, NULL when no sample had a predecessor
-- Plan: sweeps_ts range, snapshots primary key, instances and programs by primary key.
WITH
sw AS (SELECT id, ts FROM sweeps WHERE ts >= :since AND ts < :until),
s AS (
    SELECT sw.id AS sweep_id, sw.ts, i.program_id, sn.rss_kb, sn.utime + sn.stime AS ticks,
           LAG(sn.utime + sn.stime) OVER w AS prev_ticks, LAG(sw.ts) OVER w AS prev_ts
    FROM sw
    JOIN snapshots sn ON sn.sweep_id = sw.id
    JOIN instances i ON i.id = sn.instance_id
    WINDOW w AS (PARTITION BY sn.instance_id ORDER BY sw.ts)
),
per AS (
    SELECT program_id, ts, SUM(rss_kb) AS rss_kb,
           SUM(CASE WHEN prev_ts < ts THEN (ticks - prev_ticks) * 1000.0 / (ts - prev_ts) END) AS cpu_pct
    FROM s GROUP BY program_id, sweep_id
)
SELECT p.name AS program,
       CAST((per.ts - :since) * :buckets / (:until - :since) AS INTEGER) AS bucket,
       round(AVG(per.rss_kb), 1) AS rss_kb,
       round(AVG(per.cpu_pct), 1) AS cpu_pct
FROM per
JOIN programs p ON p.id = per.program_id
WHERE json_array_length(:programs) = 0 OR p.name IN (SELECT value FROM json_each(:programs))
GROUP BY p.name, bucket
ORDER BY p.name, bucket;
