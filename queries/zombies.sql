-- zombies: processes that kept zombie children during the range, longest first.
-- zombie_parents holds intervals per parent identity (pid, start ticks): a reused pid is a new row.
-- A zombie that its parent reaps before the next scan is normal (fork, exit, wait): by default only
-- parents seen in at least 2 consecutive scans are listed (:min_scans).
-- Parameters:
--   :since, :until     time range, ms since epoch UTC; an interval counts when it overlaps the range
--   :min_scans         keep parents seen with zombies in at least this many consecutive scans
--   :min_duration_ms   keep parents whose interval (last_seen - first_seen) is at least this long
--   :min_zombies       keep parents that had at least this many zombies at once
--   :programs          JSON array of program names (or POOL.INDEX) to keep; '[]' keeps all, including
--                      parents that belong to no supervised program
-- Columns:
--   parent_pid      pid of the parent that did not reap
--   parent_name     its name (comm)
--   parent_cmdline  its command line
--   program         the supervised program whose process (pid, start ticks) the parent was, NULL otherwise
--   max_zombies     the most zombie children seen at once
--   first_seen      first scan that saw it (ms UTC)
--   last_seen       last scan that saw it (ms UTC)
--   duration_s      last_seen - first_seen, seconds
-- Plan: zombie_parents_last_seen range on last_seen >= :since; the parent's instance by instances_pid
-- (pid, start_ticks); its program by primary key.
SELECT
    z.parent_pid AS parent_pid,
    z.parent_name AS parent_name,
    z.parent_cmdline AS parent_cmdline,
    p.name AS program,
    z.max_zombies AS max_zombies,
    z.first_seen AS first_seen,
    z.last_seen AS last_seen,
    round((z.last_seen - z.first_seen) / 1000.0, 3) AS duration_s
FROM zombie_parents z
LEFT JOIN instances i ON i.id = (SELECT x.id FROM instances x INDEXED BY instances_pid
                                  WHERE x.pid = z.parent_pid AND x.start_ticks = z.parent_start_ticks
                                  ORDER BY x.started_at DESC LIMIT 1)
LEFT JOIN programs p ON p.id = i.program_id
WHERE z.last_seen >= :since AND z.first_seen < :until
  AND z.scans >= :min_scans AND z.last_seen - z.first_seen >= :min_duration_ms AND z.max_zombies >= :min_zombies
  AND (json_array_length(:programs) = 0 OR p.name IN (SELECT value FROM json_each(:programs))
       OR p.name || '.' || i.worker_index IN (SELECT value FROM json_each(:programs)))
ORDER BY z.last_seen - z.first_seen DESC, z.first_seen, z.id;
