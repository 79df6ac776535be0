-- limits: the memory and CPU limits each program ran under in the range, per supervisor run (the
-- postmortem draws them as lines on its charts). From program_configs: the validated spec in force
-- in that run (JSON; a pool's per-worker limits are under "worker").
-- Parameters:
--   :since, :until  time range, ms since epoch UTC
--   :programs       JSON array of program names to keep; '[]' keeps all
-- Columns:
--   program           program or pool name
--   run               runs.id
--   started_at        when that run started (ms UTC)
--   stopped_at        when it stopped (ms UTC), NULL while running
--   max_memory_mb     RSS limit of the process tree (max_memory_mb), MiB, NULL when none
--   cgroup_memory_b   cgroup memory_max, bytes, NULL when none
--   cpu_quota_pct     cgroup cpu_quota, percent of one CPU, NULL when none
-- Plan: runs are few; program_configs (one row per program per run, small) is read for them; no
-- events, instances or snapshots are read.
SELECT p.name AS program, r.id AS run, r.started_at AS started_at, r.stopped_at AS stopped_at,
       COALESCE(json_extract(pc.config_json, '$.maxMemoryMB'), json_extract(pc.config_json, '$.worker.maxMemoryMB')) AS max_memory_mb,
       COALESCE(json_extract(pc.config_json, '$.cgroup.memoryMax'), json_extract(pc.config_json, '$.worker.cgroup.memoryMax')) AS cgroup_memory_b,
       COALESCE(json_extract(pc.config_json, '$.cgroup.cpuQuotaPercent'), json_extract(pc.config_json, '$.worker.cgroup.cpuQuotaPercent')) AS cpu_quota_pct
FROM runs r
JOIN program_configs pc ON pc.run_id = r.id
JOIN programs p ON p.id = pc.program_id
WHERE r.started_at < :until AND (r.stopped_at IS NULL OR r.stopped_at >= :since)
  AND (json_array_length(:programs) = 0 OR p.name IN (SELECT value FROM json_each(:programs)))
ORDER BY p.name, r.started_at, r.id;
