-- gaps: where this file's record is incomplete, for the postmortem. Recording gaps (`recording_gap` events,
-- kind 15, through the recording_gaps view) whose span overlaps the range: histd writes one when it had to
-- drop items (queue full, disk full, database locked or read-only...); its detail holds the span of the
-- lost items, from_ms .. to_ms. And the spans whose facts went with a lost database file (storage_outages
-- with lost_inode: deleted, replaced or moved away under a running histd).
-- Parameters:
--   :since, :until  time range, ms since epoch UTC
-- Columns:
--   time     when the gap begins (ms UTC; the event's ts = from_ms)
--   from     the first lost item's time (ms UTC)
--   until    the last lost item's time (ms UTC)
--   dropped  items lost (events, sweeps and scans); for a lost file, the facts this histd had committed to it
--   reason   why, comma-separated: queue_full, disk_full, read_only, busy, io_error, ...; for a lost file the
--            outage's states (deleted, replaced or moved, then any later ones such as cannot_open)
--   source   recording_gap or storage_outage
-- Plan: events_kind_ts ranges on (kind = 15, ts < :until) and (kind = 60, ts >= :since); gaps are rare, so
-- every earlier gap is read and its end compared (a gap may last longer than any fixed look-back).
SELECT time, "from", "until", dropped, reason, source FROM (
    SELECT ts AS time, COALESCE(from_ms, ts) AS "from", COALESCE(to_ms, from_ms, ts) AS "until", dropped, reason,
           'recording_gap' AS source, event_id
    FROM recording_gaps
    WHERE ts < :until AND COALESCE(to_ms, from_ms, ts) >= :since
    UNION ALL
    -- A database file histd lost (deleted, replaced or moved away: a storage_outage with lost_inode) took
    -- what this histd had written to it since it opened it: lost_since_ms (since 2026-12: the run's start,
    -- or the previous loss; before, the run's start stands in) up to the loss, from_ms.
    SELECT o.ts, COALESCE(json_extract(e.detail, '$.lost_since_ms'), r.started_at, o.from_ms), o.from_ms,
           o.lost_written, o.states, 'storage_outage', o.event_id
    FROM storage_outages o
    JOIN events e ON e.id = o.event_id
    LEFT JOIN runs r ON r.id = o.run_id
    WHERE o.lost_inode IS NOT NULL AND o.from_ms >= :since
      AND COALESCE(json_extract(e.detail, '$.lost_since_ms'), r.started_at, o.from_ms) < :until
)
ORDER BY time, event_id;
