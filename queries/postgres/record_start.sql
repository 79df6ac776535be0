-- record_start (fleet): the PostgreSQL twin of queries/record_start.sql, per host: where the central record
-- of each host's events begins (a window that starts earlier is incomplete before it: central retention
-- dropped the days before, or the host had not shipped yet). NULL ts: the host shipped no event.
-- Parameters: $1 host ids (text[], '{}' keeps all).
-- Columns: host, ts (ms UTC).
-- Plan: per (host, epoch) cursor row, the first event in primary-key order: one index seek per day
-- partition (Merge Append); ids grow with insertion, as in the local query.
SELECT h.host_id AS host,
       (SELECT min(f.ts) FROM ship_cursor c
        CROSS JOIN LATERAL (SELECT e.ts FROM events e WHERE e.host_id = c.host_id AND e.db_epoch = c.db_epoch
                            ORDER BY e.id LIMIT 1) f
        WHERE c.host_id = h.host_id) AS ts
FROM hosts h
WHERE cardinality($1::text[]) = 0 OR h.host_id = ANY($1::text[])
ORDER BY h.host_id;
