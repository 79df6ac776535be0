-- runs: supervisor runs that started or ended in the range, or were running through it.
-- Parameters:
--   :since, :until  time range, ms since epoch UTC
-- Columns:
--   run          runs.id
--   host         host name
--   pid          histd's pid
--   version      histd version
--   started_at   when histd started (ms UTC)
--   stopped_at   when it stopped, NULL while running or if it died
--   stop_reason  clean, signal, unclean (histd died; closed by the next start) or NULL
--   last_record  for unclean runs: the newest event recorded before the next run started (ms UTC)
--   next_start   for unclean runs: when the next run started (ms UTC)
-- Plan: runs_started range (runs are few); events_ts for last_record.
SELECT r.id AS run, r.host AS host, r.pid AS pid, r.version AS version, r.started_at AS started_at,
       r.stopped_at AS stopped_at, r.stop_reason AS stop_reason,
       CASE WHEN r.stop_reason = 'unclean' OR (r.stopped_at IS NULL AND nr.started_at IS NOT NULL) THEN
           (SELECT MAX(e.ts) FROM events e WHERE e.ts >= r.started_at AND e.ts < COALESCE(nr.started_at, r.stopped_at, :until))
       END AS last_record,
       CASE WHEN r.stop_reason = 'unclean' OR r.stopped_at IS NULL THEN nr.started_at END AS next_start
FROM runs r
LEFT JOIN runs nr ON nr.id = (SELECT n.id FROM runs n WHERE n.started_at > r.started_at ORDER BY n.started_at, n.id LIMIT 1)
WHERE r.started_at < :until AND (r.stopped_at IS NULL OR r.stopped_at >= :since OR nr.started_at >= :since)
ORDER BY r.started_at, r.id;
