-- crashes: every crash in the range, one row per ended process, oldest first, through the crashes view.
-- A crash is an instance whose exit class is 'crash' (non-zero exit or a signal histd did not send)
-- or 'limit' (histd stopped it for a limit; reason 'limit'). Each row is one instance, identified by
-- (pid, start_ticks): a pid reused by two processes gives two rows, never one.
-- Parameters:
--   :since, :until  time range, ms since epoch UTC (since inclusive, until exclusive), on the end time
--   :programs       JSON array of program names to keep; '[]' keeps all
-- Columns:
--   time             when the process ended (ms UTC)
--   program          program or pool name
--   pid              process id
--   exit_code        exit code, NULL when killed by a signal
--   signal           signal number (shown by name), NULL when it exited
--   core_dumped      0/1
--   uptime_s         how long it ran, seconds
--   restart_delay_s  the backoff of the restart_scheduled event histd wrote for this instance (within
--                    60 s of its end), NULL when histd gave up or did not restart it
--   reason           'crash' or 'limit'
--   stderr_tail      the last lines of stderr, NULL when it printed nothing
-- Plan: instances_ended range on ended_at; programs and signal_names by primary key; events_kind_ts
-- range on (kind = 4, ts) for the restart delay.
SELECT ts AS time, program, pid, exit_code, signal, core_dumped, uptime_s, restart_delay_s, reason, stderr_tail
FROM crashes
WHERE ts >= :since AND ts < :until
  AND (json_array_length(:programs) = 0 OR program IN (SELECT value FROM json_each(:programs)))
ORDER BY ts, instance_id;
