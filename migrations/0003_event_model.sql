-- 0003_event_model: the stored vocabulary says only what histd records. Never edit once landed.
--
-- Event kind 17 `adopted` was never produced: a descendant re-parented to histd is recorded as an orphan
-- with reason `adopted_by_histd` (the orphans table), not as an event. No event can have kind 17; a
-- database that somehow holds one keeps the kind, so that no event is left without its name.
DELETE FROM event_kinds WHERE id = 17 AND NOT EXISTS (SELECT 1 FROM events WHERE kind = 17);

-- runs.stop_reason 'signal' was never set: a shutdown on SIGTERM/SIGINT is orderly and recorded as
-- 'clean'. SQLite cannot change a CHECK in place, so the table is rebuilt with the same columns and
-- rows (a 'signal' row, which no histd wrote, would become 'clean'). legacy_alter_table keeps the
-- rename from rewriting the views and foreign keys that name `runs`: they go on naming the new table.
PRAGMA legacy_alter_table = ON;
CREATE TABLE runs_0003 (
    id           INTEGER PRIMARY KEY,
    host         TEXT    NOT NULL,
    pid          INTEGER NOT NULL,
    version      TEXT    NOT NULL,
    config_path  TEXT,
    config_hash  TEXT,
    boot_id      TEXT,                   -- /proc/sys/kernel/random/boot_id: start ticks are only comparable within a boot
    started_at   INTEGER NOT NULL,
    stopped_at   INTEGER,                -- NULL while running, or if histd died (closed as 'unclean' by the next start)
    stop_reason  TEXT CHECK (stop_reason IN ('clean', 'unclean'))
);
INSERT INTO runs_0003 (id, host, pid, version, config_path, config_hash, boot_id, started_at, stopped_at, stop_reason)
SELECT id, host, pid, version, config_path, config_hash, boot_id, started_at, stopped_at,
       CASE stop_reason WHEN 'signal' THEN 'clean' ELSE stop_reason END
FROM runs;
DROP TABLE runs;
ALTER TABLE runs_0003 RENAME TO runs;
PRAGMA legacy_alter_table = OFF;
CREATE INDEX runs_started ON runs(started_at);
