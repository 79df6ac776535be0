-- usage: per-program peak RSS and peak CPU% over the range in :buckets equal time buckets (the
-- postmortem's charts: 1,000 buckets for HTML, folded to 40 for the Markdown sparklines).
-- The postmortem computes the same in one pass (Sources/HistReports/UsageReader.swift); this query
-- is the reference it is tested against (UsageEquivalenceTests), and it is there for `histctl sql`.
-- Per sweep, a program's RSS is the sum over its instances and its CPU% the sum of its instances'
-- tick deltas since the previous sweep (by id) times 1000 over the sweeps' Δt in ms (100 ticks/s: the
-- sum of the snapshots_with_rates view's cpu_percent, divided once instead of once per instance).
-- A bucket keeps the **largest** sweep value of each (not the average): downsampling never hides a
-- peak, and the chart's maximum is the true maximum of the samples.
-- Parameters:
--   :since, :until  time range, ms since epoch UTC
--   :buckets        number of buckets
--   :programs       JSON array of program names to keep; '[]' keeps all
-- Columns:
--   program   program or pool name
--   bucket    0 ..< :buckets
--   time      the first sweep in the bucket (ms UTC)
--   rss_kb    largest per-sweep RSS in the bucket, KiB
--   cpu_pct   largest per-sweep CPU% in the bucket (not rounded), NULL when no sample had a predecessor
-- Plan: sweeps_ts range, each sweep's previous sweep by primary key once (not once per sample);
-- snapshots by primary key (this sweep, then the previous sweep's sample of the same instance);
-- instances by primary key; grouped by (sweep, program id) first, names joined on the 200-odd groups.
WITH
sw AS MATERIALIZED (
    SELECT w.id, w.ts, pw.id AS prev_id, pw.ts AS prev_ts,
           CAST((w.ts - :since) * :buckets / (:until - :since) AS INTEGER) AS bucket
    FROM sweeps w
    LEFT JOIN sweeps pw ON pw.id = (SELECT max(q.id) FROM sweeps q WHERE q.id < w.id)
    WHERE w.ts >= :since AND w.ts < :until
),
per AS (
    SELECT i.program_id AS program_id, sw.bucket AS bucket, sw.ts AS ts, SUM(c.rss_kb) AS rss_kb,
           SUM(CASE WHEN sw.prev_ts IS NULL OR sw.ts <= sw.prev_ts OR ps.utime IS NULL THEN NULL
                    ELSE max(0, c.utime + c.stime - ps.utime - ps.stime) END) * 1000.0 / (sw.ts - sw.prev_ts) AS cpu_pct
    FROM sw
    JOIN snapshots c ON c.sweep_id = sw.id
    LEFT JOIN snapshots ps ON ps.sweep_id = sw.prev_id AND ps.instance_id = c.instance_id
    JOIN instances i ON i.id = c.instance_id
    GROUP BY sw.id, i.program_id
)
SELECT p.name AS program, bucket, MIN(ts) AS time, MAX(rss_kb) AS rss_kb, MAX(cpu_pct) AS cpu_pct
FROM per JOIN programs p ON p.id = per.program_id
WHERE json_array_length(:programs) = 0 OR p.name IN (SELECT value FROM json_each(:programs))
GROUP BY p.name, bucket
ORDER BY p.name, bucket;
