-- usage (fleet): the PostgreSQL twin of queries/usage.sql over the shipped snapshots (central 0008; a host
-- ships them with [ship] ship_snapshots): per host and program, peak RSS and peak CPU% in :buckets equal
-- time buckets (the fleet postmortem's charts).
-- Shipped snapshots are downsampled (one sweep per ship_snapshots interval), so CPU% is taken between two
-- adjacent *shipped* samples of an instance (utime + stime ticks at 100/s over their ts), an average over
-- that interval rather than the local one between adjacent sweeps: the same total CPU, lower peaks. RSS
-- per sweep is the local value (the same rows). A bucket keeps the largest per-sweep value of each.
-- Parameters: $1 since, $2 until (ms UTC); $3 buckets; $4 program names (text[], '{}' keeps all);
-- $5 host ids (text[], '{}' keeps all).
-- Columns: host, program, bucket (0 ..< $3), time (the first sample in the bucket, ms UTC), rss_kb (KiB),
-- cpu_pct (NULL when no sample had a predecessor).
-- Plan: snapshots_host_ts ranges per day partition on the window (a seq scan of its day partitions for every
-- host); each instance's first sample in the window finds its predecessor (up to an hour before) by the
-- primary key, one seek per partition; instances and programs by primary key.
WITH w AS (
    SELECT n.host_id, n.db_epoch, n.instance_id, n.ts, n.rss_kb, n.utime + n.stime AS ticks,
           lag(n.ts) OVER o AS prev_ts, lag(n.utime + n.stime) OVER o AS prev_ticks
    FROM snapshots n
    WHERE n.ts >= $1 AND n.ts < $2 AND (cardinality($5::text[]) = 0 OR n.host_id = ANY($5::text[]))
    WINDOW o AS (PARTITION BY n.host_id, n.db_epoch, n.instance_id ORDER BY n.ts)
),
s AS (
    SELECT w.host_id, w.db_epoch, w.instance_id, w.ts, w.rss_kb, w.ticks,
           coalesce(w.prev_ts, b.ts) AS prev_ts, coalesce(w.prev_ticks, b.ticks) AS prev_ticks
    FROM w
    LEFT JOIN LATERAL (SELECT p.ts, p.utime + p.stime AS ticks FROM snapshots p
                       WHERE w.prev_ts IS NULL AND p.host_id = w.host_id AND p.db_epoch = w.db_epoch
                         AND p.instance_id = w.instance_id AND p.ts < w.ts AND p.ts >= $1 - 3600000
                       ORDER BY p.ts DESC LIMIT 1) b ON true
),
per AS (
    SELECT s.host_id, s.db_epoch, i.program_id, s.ts, SUM(s.rss_kb)::bigint AS rss_kb,
           SUM(CASE WHEN s.prev_ts IS NULL OR s.ts <= s.prev_ts THEN NULL
                    ELSE greatest(0, s.ticks - s.prev_ticks) * 1000.0 / (s.ts - s.prev_ts) END) AS cpu_pct
    FROM s
    JOIN instances i ON i.host_id = s.host_id AND i.db_epoch = s.db_epoch AND i.id = s.instance_id
    GROUP BY s.host_id, s.db_epoch, i.program_id, s.ts
)
SELECT per.host_id AS host, p.name AS program, ((per.ts - $1) * $3 / ($2 - $1))::bigint AS bucket, MIN(per.ts) AS time,
       MAX(per.rss_kb) AS rss_kb, MAX(per.cpu_pct)::double precision AS cpu_pct
FROM per
JOIN programs p ON p.host_id = per.host_id AND p.db_epoch = per.db_epoch AND p.id = per.program_id
WHERE cardinality($4::text[]) = 0 OR p.name = ANY($4::text[])
GROUP BY per.host_id, p.name, 3
ORDER BY per.host_id, p.name, 3;
