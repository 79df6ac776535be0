-- runs: supervisor runs that started or ended in the range, or were running through it.
-- A histd that died (kill -9, crash, power loss) leaves its run open; the next histd start closes it
-- with stop_reason 'unclean', stopped_at = the dead run's last recorded event, and a supervisor_stop
-- event {"reason":"unclean","detected_ms":..} at that time. Nothing was recorded from then until the
-- next run started: the postmortem reports that span as incomplete.
-- Parameters:
--   :since, :until  time range, ms since epoch UTC
-- Columns:
--   run          runs.id
--   host         host name
--   pid          histd's pid
--   version      histd version
--   started_at   when histd started (ms UTC)
--   stopped_at   when it stopped (for unclean runs: its last event), NULL while running
--   stop_reason  clean, signal, unclean (histd died; closed by the next start) or NULL while running
--   last_record  for unclean runs: the last thing recorded before histd died (= stopped_at, ms UTC)
--   next_start   for unclean runs: when the next run started (ms UTC)
-- Plan: runs are few (one per histd start): runs_started for the next run; no events are read.
SELECT r.id AS run, r.host AS host, r.pid AS pid, r.version AS version, r.started_at AS started_at,
       r.stopped_at AS stopped_at, r.stop_reason AS stop_reason,
       CASE WHEN r.stop_reason = 'unclean' THEN r.stopped_at END AS last_record,
       CASE WHEN r.stop_reason = 'unclean' THEN
           (SELECT n.started_at FROM runs n WHERE (n.started_at, n.id) > (r.started_at, r.id)
             ORDER BY n.started_at, n.id LIMIT 1)
       END AS next_start
FROM runs r
WHERE r.started_at < :until
  AND (r.stopped_at IS NULL OR r.stopped_at >= :since
       OR (r.stop_reason = 'unclean'
           AND (SELECT n.started_at FROM runs n WHERE (n.started_at, n.id) > (r.started_at, r.id)
                 ORDER BY n.started_at, n.id LIMIT 1) >= :since))
ORDER BY r.started_at, r.id;
