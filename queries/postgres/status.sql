-- status (fleet): per host and program, the newest instance as last shipped (docs/FLEET.md). Reads the
-- fleet_status rollup (one row per host and program, kept by histd-ship), never events: 100 hosts answer
-- in milliseconds. Only each host's current local database (hosts.db_epoch) counts.
-- Parameters: $1 now (ms UTC); $2 program names (text[], '{}' all); $3 host ids (text[], '{}' all).
-- Columns: host, program, kind, state ('running' while the newest instance has no end, else its exit
-- class), pid (running only), uptime_s (running only), last_exit_at, last_exit_code, last_signal (for an
-- ended newest instance), shipped_at (when the host last shipped: how fresh this row is).
SELECT s.host_id AS host, p.name AS program, p.kind AS kind,
       CASE WHEN s.ended_at IS NULL THEN 'running' ELSE coalesce(s.class, 'ended') END AS state,
       CASE WHEN s.ended_at IS NULL THEN s.pid END AS pid,
       CASE WHEN s.ended_at IS NULL THEN ($1 - s.started_at) / 1000.0::float8 END AS uptime_s,
       s.ended_at AS last_exit_at, s.exit_code AS last_exit_code, s.signal AS last_signal,
       h.last_shipped_at AS shipped_at
FROM hosts h
JOIN fleet_status s ON s.host_id = h.host_id AND s.db_epoch = h.db_epoch
JOIN programs p ON p.host_id = s.host_id AND p.db_epoch = s.db_epoch AND p.id = s.program_id
WHERE (cardinality($2::text[]) = 0 OR p.name = ANY($2::text[]))
  AND (cardinality($3::text[]) = 0 OR s.host_id = ANY($3::text[]))
ORDER BY s.host_id, p.name;
