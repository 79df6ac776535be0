-- runs (fleet): the PostgreSQL twin of queries/runs.sql over every shipped host (fleet postmortem).
-- The same rows and columns as the local report, but `host` first is the fleet's host_id (the local `host`
-- column, histd's hostname, is left out). next_start is the host's next run in any of its epochs (a
-- file recreated after histd died starts the next run in a new epoch).
-- Parameters: $1 since, $2 until (ms UTC); $3 host ids (text[], '{}' keeps all).
-- Plan: runs are few (one per histd start): read per host by primary key; no events are read.
WITH r AS (
    SELECT r.*,
           (SELECT n.started_at FROM runs n
             WHERE n.host_id = r.host_id AND (n.started_at, n.db_epoch, n.id) > (r.started_at, r.db_epoch, r.id)
             ORDER BY n.started_at, n.db_epoch, n.id LIMIT 1) AS next_run_at
    FROM runs r
    WHERE r.started_at < $2 AND (cardinality($3::text[]) = 0 OR r.host_id = ANY($3::text[]))
)
SELECT host_id AS host, id AS run, pid, version, started_at, stopped_at, stop_reason,
       CASE WHEN stop_reason = 'unclean' THEN stopped_at END AS last_record,
       CASE WHEN stop_reason = 'unclean' THEN next_run_at END AS next_start
FROM r
WHERE stopped_at IS NULL OR stopped_at >= $1 OR (stop_reason = 'unclean' AND next_run_at >= $1)
ORDER BY started_at, host_id, db_epoch, id;
