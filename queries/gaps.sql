-- gaps: recording_gap events whose gap overlaps the range. The writer records one when it had to
-- drop events; value is the number dropped and detail may hold {"from": ms, "until": ms}, the span of
-- the dropped events (when absent, the event's own time stands for both ends).
-- Parameters:
--   :since, :until  time range, ms since epoch UTC
-- Columns:
--   time     when the gap was recorded (ms UTC)
--   from     first moment not recorded (ms UTC)
--   until    last moment not recorded (ms UTC)
--   dropped  events dropped
-- Plan: events_kind_ts range on (kind = 15, ts); gaps are recorded after they happen, so the
-- search runs one day past :until.
SELECT g.time, g."from", g."until", g.dropped
FROM (
    SELECT e.ts AS time,
           COALESCE(json_extract(e.detail, '$.from'), e.ts) AS "from",
           COALESCE(json_extract(e.detail, '$.until'), e.ts) AS "until",
           e.value AS dropped,
           e.id
    FROM events e
    WHERE e.kind = 15 /* recording_gap */ AND e.ts >= :since - 86400000 AND e.ts < :until + 86400000
) g
WHERE g."until" >= :since AND g."from" < :until
ORDER BY g."from", g.id;
