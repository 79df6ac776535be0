-- gaps (fleet): the PostgreSQL twin of queries/gaps.sql over every shipped host (fleet postmortem), plus the
-- central record's own holes: the host's ship_gaps (rows its retention deleted before they were shipped,
-- docs/FLEET.md "Backpressure"), source 'ship_gap', with the table in `reason` and the rows in `dropped`;
-- and, source 'not_shipped', the time after the host's shipper last found nothing left to ship
-- (ship_cursor.caught_up_at of its current epoch, central 0008) up to the window's end or now, when that is
-- more than a minute: what the host recorded since is not central (yet), or its shipper stopped.
-- Columns: host, then those of the local report (time, from, until, dropped, reason, source).
-- Parameters: $1 since, $2 until (ms UTC); $3 host ids (text[], '{}' keeps all).
-- Plan: events_kind_ts ranges on (kind = 15, ts < $2) and (kind = 60, ts >= $1) in each day partition
-- (gaps are rare); runs by primary key; ship_gaps, hosts and ship_cursor are small.
SELECT host, time, "from", "until", dropped, reason, source FROM (
    SELECT e.host_id AS host, e.ts AS time,
           COALESCE((x.d ->> 'from_ms')::numeric::bigint, e.ts) AS "from",
           COALESCE((x.d ->> 'to_ms')::numeric::bigint, (x.d ->> 'from_ms')::numeric::bigint, e.ts) AS "until",
           e.value AS dropped, x.d ->> 'reason' AS reason, 'recording_gap' AS source, e.db_epoch AS epoch, e.id AS id
    FROM events e
    CROSS JOIN LATERAL (SELECT e.detail::jsonb AS d) x
    WHERE e.kind = 15 AND e.ts < $2 AND (cardinality($3::text[]) = 0 OR e.host_id = ANY($3::text[]))
    UNION ALL
    -- A database file histd lost (deleted, replaced or moved away) took what histd had written to it since
    -- lost_since_ms (or the run's start) up to the loss.
    SELECT e.host_id, e.ts,
           COALESCE((x.d ->> 'lost_since_ms')::numeric::bigint, r.started_at, (x.d ->> 'from_ms')::numeric::bigint),
           (x.d ->> 'from_ms')::numeric::bigint, (x.d ->> 'lost_written')::numeric::bigint, x.d ->> 'states',
           'storage_outage', e.db_epoch, e.id
    FROM events e
    CROSS JOIN LATERAL (SELECT e.detail::jsonb AS d) x
    LEFT JOIN runs r ON r.host_id = e.host_id AND r.db_epoch = e.db_epoch AND r.id = e.run_id
    WHERE e.kind = 60 AND e.ts >= $1 AND x.d ->> 'lost_inode' IS NOT NULL
      AND (cardinality($3::text[]) = 0 OR e.host_id = ANY($3::text[]))
    UNION ALL
    SELECT g.host_id, COALESCE(g.first_ts, g.at), COALESCE(g.first_ts, g.at), COALESCE(g.last_ts, g.first_ts, g.at), g.rows, g.tbl,
           'ship_gap', g.db_epoch, g.id
    FROM ship_gaps g
    WHERE COALESCE(g.first_ts, g.at) < $2 AND (cardinality($3::text[]) = 0 OR g.host_id = ANY($3::text[]))
    UNION ALL
    SELECT h.host_id, c.caught_up_at, c.caught_up_at, n.until, NULL, NULL, 'not_shipped', c.db_epoch, 0
    FROM hosts h
    JOIN ship_cursor c ON c.host_id = h.host_id AND c.db_epoch = h.db_epoch
    CROSS JOIN LATERAL (SELECT least($2, (extract(epoch FROM clock_timestamp()) * 1000)::bigint) AS until) n
    WHERE c.caught_up_at IS NOT NULL AND c.caught_up_at < n.until - 60000
      AND (cardinality($3::text[]) = 0 OR h.host_id = ANY($3::text[]))
) gaps
WHERE "until" >= $1 AND "from" < $2
ORDER BY time, host, epoch, source, id;
