-- 0006_ownership: event kinds for processes histd stops because an instance owns its whole tree.
-- Ids 30-39 are reserved for ownership facts. Never edit once landed.
--
--   swept (30): a process that remained of an instance after its main process ended (kill_mode = "tree"),
--               or that the final sweep found at shutdown, and that histd stopped.
--               value = pid; instance_id = the instance it belonged to (NULL when unknown);
--               detail = {"start_ticks": N, "signal": N, "reason": "instance_ended" | "shutdown"[, "gone": false]}.
INSERT INTO event_kinds (id, name) VALUES (30, 'swept');
