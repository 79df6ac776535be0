-- top_scan: the system-wide scan nearest to :at (`histctl top` prints it under the processes).
-- Parameters:
--   :at  the moment to look at, ms since epoch UTC
-- Columns:
--   time          the scan's time (ms UTC)
--   total         processes on the machine
--   running, sleeping, disk_sleep, zombie, stopped, other   counts by state
--   total_rss_kb  RSS of all processes, KiB
-- Plan: scans_ts (two one-row seeks).
SELECT ts AS time, total, running, sleeping, disk_sleep, zombie, stopped, other, total_rss_kb
FROM (
    SELECT * FROM (SELECT * FROM scans WHERE ts <= :at ORDER BY ts DESC LIMIT 1)
    UNION ALL
    SELECT * FROM (SELECT * FROM scans WHERE ts > :at ORDER BY ts ASC LIMIT 1)
)
ORDER BY abs(ts - :at), ts
LIMIT 1;
