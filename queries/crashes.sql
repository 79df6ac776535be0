-- crashes: every crash in the range, one row per ended process, newest last.
-- A crash is a `crash` event (kind 3), or an `exit` event (kind 2) whose instance was ended for a
-- limit (class 'limit', shown with reason 'limit'). Each row is one instance: a pid reused by two
-- processes gives two rows, never one.
-- Parameters:
--   :since, :until  time range, ms since epoch UTC (since inclusive, until exclusive)
--   :programs       JSON array of program names to keep; '[]' keeps all
-- Columns:
--   time             when the process ended (ms UTC)
--   program          program or pool name
--   pid              process id
--   exit_code        exit code, NULL when killed by a signal
--   signal           signal number (shown by name), NULL when it exited
--   core_dumped      0/1
--   uptime_s         how long it ran, seconds
--   restart_delay_s  the backoff histd scheduled right after (restart_scheduled within 5 s of the
--                    crash, same program and pool worker), NULL when histd gave up or did not restart
--   reason           'crash' or 'limit'
--   stderr_tail      the last lines of stderr
-- Plan: events_kind_ts range on (kind IN (2,3), ts); instances and programs by primary key.
SELECT
    e.ts AS time,
    p.name AS program,
    i.pid AS pid,
    i.exit_code AS exit_code,
    i.signal AS signal,
    COALESCE(i.core_dumped, 0) AS core_dumped,
    round(COALESCE(i.uptime_ms, CASE WHEN e.kind = 3 THEN e.value END) / 1000.0, 3) AS uptime_s,
    (SELECT r.value / 1000.0
       FROM events r
      WHERE r.kind = 4 /* restart_scheduled */
        AND r.ts >= e.ts AND r.ts <= e.ts + 5000
        AND r.program_id = e.program_id
        AND COALESCE(json_extract(r.detail, '$.worker_index'), i.worker_index) IS i.worker_index
      ORDER BY r.ts, r.id
      LIMIT 1) AS restart_delay_s,
    CASE WHEN i.class = 'limit' THEN 'limit' ELSE 'crash' END AS reason,
    i.stderr_tail AS stderr_tail
FROM events e
LEFT JOIN instances i ON i.id = e.instance_id
LEFT JOIN programs p ON p.id = e.program_id
WHERE e.kind IN (2 /* exit */, 3 /* crash */)
  AND e.ts >= :since AND e.ts < :until
  AND (e.kind = 3 OR i.class = 'limit')
  AND (json_array_length(:programs) = 0 OR p.name IN (SELECT value FROM json_each(:programs)))
ORDER BY e.ts, e.id;
