-- 0010_storage_faults: what histd records when its own database failed it. Ids 60-64 are reserved for
-- storage facts. Never edit once landed.
--
--   storage_outage (60): a period in which the writer could not write the history database, written in the
--               first transaction that committed after it (so its end is when writing worked again).
--               ts = from_ms; value = the outage's length in ms; run_id = the run it was recorded in;
--               detail = {"from_ms": T, "to_ms": T, "states": "cannot_open,disk_full,busy,deleted,...",
--                         "held": N (most facts waiting in memory at once, written late),
--                         "dropped": N (facts lost meanwhile; each also in a recording_gap),
--                         "error": "the last failure's message"
--                         [, "lost_device": N, "lost_inode": N, "lost_written": N]}
--               The lost_* fields are present when the file was deleted or replaced under histd: the file
--               it had open (device, inode) and how many facts this histd had committed to it.
INSERT INTO event_kinds (id, name) VALUES (60, 'storage_outage');

CREATE VIEW storage_outages AS
SELECT e.id                                        AS event_id,
       e.ts                                        AS ts,
       json_extract(e.detail, '$.from_ms')          AS from_ms,
       json_extract(e.detail, '$.to_ms')            AS to_ms,
       e.value                                     AS duration_ms,
       json_extract(e.detail, '$.states')           AS states,
       json_extract(e.detail, '$.held')             AS held,
       json_extract(e.detail, '$.dropped')          AS dropped,
       json_extract(e.detail, '$.error')            AS error,
       json_extract(e.detail, '$.lost_inode')       AS lost_inode,
       json_extract(e.detail, '$.lost_written')     AS lost_written,
       e.run_id                                    AS run_id
FROM events e
WHERE e.kind = 60;
