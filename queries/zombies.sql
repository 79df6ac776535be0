-- zombies: processes that kept zombie children during the range, longest first.
-- zombie_parents holds intervals per parent identity (pid, start ticks): a reused pid is a new row.
-- Parameters:
--   :since, :until  time range, ms since epoch UTC; an interval counts when it overlaps the range
-- Columns:
--   parent_pid      pid of the parent that did not reap
--   parent_name     its name (comm)
--   parent_cmdline  its command line
--   max_zombies     the most zombie children seen at once
--   first_seen      first scan that saw it (ms UTC)
--   last_seen       last scan that saw it (ms UTC)
--   duration_s      last_seen - first_seen, seconds
-- Plan: zombie_parents_last_seen range on last_seen >= :since.
SELECT
    z.parent_pid AS parent_pid,
    z.parent_name AS parent_name,
    z.parent_cmdline AS parent_cmdline,
    z.max_zombies AS max_zombies,
    z.first_seen AS first_seen,
    z.last_seen AS last_seen,
    round((z.last_seen - z.first_seen) / 1000.0, 3) AS duration_s
FROM zombie_parents z
WHERE z.last_seen >= :since AND z.first_seen < :until
ORDER BY z.last_seen - z.first_seen DESC, z.first_seen, z.id;
