-- 0002_report_columns_and_indexes: what the fleet reports added after 0001 landed (docs/FLEET.md).
-- Applied by histd-ship or `histctl fleet migrate` like 0001. Never edit once landed.

-- The newest local scans.ts that histd-ship read before its last catch-up (NULL: none yet): fleet
-- `orphans` says alive when an orphan's last_seen reaches it, as the local report does with MAX(scans.ts).
ALTER TABLE ship_cursor ADD COLUMN last_scan_at bigint;

-- The backoff of the restart histd scheduled after this instance ended (local migration 0013), shipped
-- so that fleet `crashes` reads it from the instance instead of searching the events.
ALTER TABLE instances ADD COLUMN restart_delay_ms bigint;

-- A process by identity (fleet `zombies`: which program's process a zombie parent was).
CREATE INDEX instances_identity ON instances (host_id, db_epoch, pid, start_ticks, started_at);

-- One program's events of a kind in a time range (loops: its restart delays and give-ups), per host. It
-- replaces events_instance, which no report reads now that the restart delay is on the instance.
DROP INDEX events_instance;
CREATE INDEX events_program ON events (host_id, db_epoch, program_id, kind, ts);

-- The time ranges of fleet `zombies` and `orphans`.
CREATE INDEX zombie_parents_last_seen ON zombie_parents (last_seen);
CREATE INDEX orphans_last_seen ON orphans (last_seen);
