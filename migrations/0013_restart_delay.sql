-- 0013_restart_delay: each crash's restart delay beside the crash itself (docs/SCHEMA.md, "instances").
-- Never edit once landed.
--
-- instances.restart_delay_ms: for an instance that ended as a crash or a limit kill, the value (the
-- backoff, ms) of the first restart_scheduled event histd recorded for it (events.instance_id = its id)
-- within 60 s after its end; "first" by the event's ts, then its id. NULL when there is none (histd gave
-- up, or did not restart it) and for every other exit class. It is what the crashes view and
-- `histctl crashes` show as restart_delay_s, which they used to compute with one events_kind_ts range per
-- crash (about 130 ms CPU for a day of 67 k crashes, and a table row per candidate event). It is derived
-- and exact: the writer sets it in the transaction that records the restart_scheduled (HistStore
-- RestartDelay; the engine records an end before the restart it schedules after it), and retention
-- recomputes it for the instances whose restart_scheduled events it deletes. One column on the row the
-- listing reads anyway costs about 4 bytes per crash and one byte (its NULL) per other new instance; a
-- table of its own (the first try, not landed) cost 5.85 bytes per event.
ALTER TABLE instances ADD COLUMN restart_delay_ms INTEGER;

-- The values for the existing history: the same statement as HistStore's RestartDelay.rebuildAllSQL (one
-- pass over events in table order, the first per instance by ts then id; on the 30-day fixture about 7 s
-- of CPU for 11.3 M events and 1.8 M crashes, once, when histd first starts on such a history).
UPDATE instances SET restart_delay_ms = d.value FROM (
    SELECT instance_id, value FROM (
        SELECT r.instance_id AS instance_id, r.value AS value,
               row_number() OVER (PARTITION BY r.instance_id ORDER BY r.ts, r.id) AS n
        FROM events r NOT INDEXED
        JOIN instances i ON i.id = r.instance_id
        WHERE r.kind = 4 /* restart_scheduled */ AND i.class IN ('crash', 'limit') AND i.ended_at IS NOT NULL
          AND r.ts >= i.ended_at AND r.ts <= i.ended_at + 60000)
    WHERE n = 1) d
WHERE instances.id = d.instance_id;

-- The crashes view (0004) with the same columns and rows, reading the column instead of the subquery.
DROP VIEW crashes;
CREATE VIEW crashes AS
SELECT i.id                                                           AS instance_id,
       i.ended_at                                                     AS ts,
       strftime('%Y-%m-%dT%H:%M:%fZ', i.ended_at / 1000.0, 'unixepoch') AS time,
       p.name                                                         AS program,
       i.worker_index                                                 AS worker_index,
       i.pid                                                          AS pid,
       i.exit_code                                                    AS exit_code,
       i.signal                                                       AS signal,
       s.name                                                         AS signal_name,
       i.core_dumped                                                  AS core_dumped,
       i.uptime_ms / 1000.0                                           AS uptime_s,
       i.class                                                        AS reason,
       i.restart_delay_ms / 1000.0                                    AS restart_delay_s,
       i.stderr_tail                                                  AS stderr_tail
FROM instances i
JOIN programs p ON p.id = i.program_id
LEFT JOIN signal_names s ON s.number = i.signal
WHERE i.class IN ('crash', 'limit') AND i.ended_at IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM operator_effects f WHERE f.instance_id = i.id AND f.effect = 'ended');
