-- gaps: recording gaps (`recording_gap` events, kind 15, through the recording_gaps view) whose span
-- overlaps the range. histd writes one when it had to drop items (queue full, disk full, database
-- locked or read-only...); its detail holds the span of the lost items, from_ms .. to_ms.
-- Parameters:
--   :since, :until  time range, ms since epoch UTC
-- Columns:
--   time     when the gap begins (ms UTC; the event's ts = from_ms)
--   from     the first lost item's time (ms UTC)
--   until    the last lost item's time (ms UTC)
--   dropped  items lost (events, sweeps and scans)
--   reason   why, comma-separated: queue_full, disk_full, read_only, busy, io_error, ...
-- Plan: events_kind_ts range on (kind = 15, ts < :until); gaps are rare, so every earlier gap is
-- read and its end compared (a gap may last longer than any fixed look-back).
SELECT ts AS time, COALESCE(from_ms, ts) AS "from", COALESCE(to_ms, from_ms, ts) AS "until", dropped, reason
FROM recording_gaps
WHERE ts < :until AND COALESCE(to_ms, from_ms, ts) >= :since
ORDER BY ts, event_id;
