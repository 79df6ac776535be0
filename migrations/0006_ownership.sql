-- 0006_ownership: event kinds for processes histd stops because an instance owns its whole tree.
-- Ids 30-39 are reserved for ownership facts. Never edit once landed.
--
--   swept (30): a process that remained of an instance after its main process ended (kill_mode = "tree"),
--               or that the final sweep found at shutdown, and that histd stopped.
--               value = pid; instance_id = the instance it belonged to (NULL when unknown);
--               detail = {"start_ticks": N, "signal": N, "reason": "instance_ended" | "shutdown"[, "gone": false]}.
INSERT INTO event_kinds (id, name) VALUES (30, 'swept');

-- What ran unsupervised, and for how long: each swept process with the instance it remained of, from that
-- instance's end (its main process gone) to the moment histd stopped it.
CREATE VIEW swept_processes AS
SELECT e.ts                                   AS ts,
       p.name                                 AS program,
       e.instance_id                          AS instance_id,
       i.worker_index                         AS worker_index,
       e.value                                AS pid,
       json_extract(e.detail, '$.start_ticks') AS start_ticks,
       json_extract(e.detail, '$.signal')      AS signal,
       json_extract(e.detail, '$.reason')      AS reason,
       coalesce(json_extract(e.detail, '$.gone'), 1) AS gone,
       CASE WHEN i.ended_at IS NOT NULL THEN e.ts - i.ended_at END AS unsupervised_ms
FROM events e
LEFT JOIN programs p ON p.id = e.program_id
LEFT JOIN instances i ON i.id = e.instance_id
WHERE e.kind = 30;
