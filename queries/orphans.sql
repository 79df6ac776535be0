-- orphans: long-lived orphan processes seen during the range, oldest first.
-- orphans holds intervals per process identity (pid, start ticks): a reused pid is a new row.
-- Parameters:
--   :since, :until    time range, ms since epoch UTC; an interval counts when it overlaps the range
--   :older_than_ms    keep processes at least this old at their last sighting
--   :programs         JSON array of program names to keep; '[]' keeps all (including unknown origin)
-- Columns:
--   pid         process id
--   name        process name (comm)
--   cmdline     command line
--   user        owner
--   started     when the process started (ms UTC)
--   age_s       its age at the last sighting, seconds
--   first_seen  first scan that saw it as an orphan (ms UTC)
--   last_seen   last scan that saw it (ms UTC)
--   alive       1 when the latest scan in the database saw it
--   program     the supervised program it came from, NULL when unknown
-- Plan: orphans_last_seen range on last_seen >= :since; latest scan via scans_ts.
SELECT
    o.pid AS pid,
    o.name AS name,
    o.cmdline AS cmdline,
    o.user AS user,
    o.started_at AS started,
    round((o.last_seen - o.started_at) / 1000.0, 3) AS age_s,
    o.first_seen AS first_seen,
    o.last_seen AS last_seen,
    o.last_seen >= (SELECT MAX(ts) FROM scans) AS alive,
    p.name AS program
FROM orphans o
LEFT JOIN programs p ON p.id = o.program_id
WHERE o.last_seen >= :since AND o.first_seen < :until
  AND o.last_seen - o.started_at >= :older_than_ms
  AND (json_array_length(:programs) = 0 OR p.name IN (SELECT value FROM json_each(:programs)))
ORDER BY o.started_at, o.id;
