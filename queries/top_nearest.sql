-- top_nearest: the sampling sweep and the system scan nearest to :at, each with the spacing of its
-- neighbours, so that `histctl top` can say how far the sample is from :at and refuse one that is too far
-- (more than max(3 x the sampling interval, 1 min): a sample from another day is not "the state at :at").
-- Parameters:
--   :at  the moment to look at, ms since epoch UTC
-- Columns:
--   source       'sweep' or 'scan'
--   time         the nearest sample's time (ms UTC); no row when there is no sample at all
--   interval_ms  the shortest gap between that sample and its previous or next one (the recording
--                interval around it), NULL when it is the only sample
-- Plan: sweeps_ts and scans_ts, one-row seeks on each side of :at and of the sample found.
WITH
sweep AS (
    SELECT ts FROM (
        SELECT * FROM (SELECT ts FROM sweeps WHERE ts <= :at ORDER BY ts DESC LIMIT 1)
        UNION ALL
        SELECT * FROM (SELECT ts FROM sweeps WHERE ts > :at ORDER BY ts ASC LIMIT 1)
    )
    ORDER BY abs(ts - :at), ts LIMIT 1
),
scan AS (
    SELECT ts FROM (
        SELECT * FROM (SELECT ts FROM scans WHERE ts <= :at ORDER BY ts DESC LIMIT 1)
        UNION ALL
        SELECT * FROM (SELECT ts FROM scans WHERE ts > :at ORDER BY ts ASC LIMIT 1)
    )
    ORDER BY abs(ts - :at), ts LIMIT 1
)
SELECT 'sweep' AS source, nw.ts AS time,
       NULLIF(min(COALESCE(nw.ts - (SELECT max(q.ts) FROM sweeps q WHERE q.ts < nw.ts), 4611686018427387904),
           COALESCE((SELECT min(q.ts) FROM sweeps q WHERE q.ts > nw.ts) - nw.ts, 4611686018427387904)), 4611686018427387904) AS interval_ms
FROM sweep nw
UNION ALL
SELECT 'scan', ns.ts,
       NULLIF(min(COALESCE(ns.ts - (SELECT max(q.ts) FROM scans q WHERE q.ts < ns.ts), 4611686018427387904),
           COALESCE((SELECT min(q.ts) FROM scans q WHERE q.ts > ns.ts) - ns.ts, 4611686018427387904)), 4611686018427387904)
FROM scan ns;
