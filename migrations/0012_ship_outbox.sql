-- 0012_ship_outbox: what histd-ship (docs/FLEET.md) copies to the central PostgreSQL. Never edit once landed.
--
-- ship_epoch: one row, a random id made when this database file was created (or first migrated to 0012).
-- Every row shipped carries (host_id, db_epoch, seq): a recreated local file gets a new epoch, so its
-- ids (which start again at 1) never collide with the old file's rows centrally.
CREATE TABLE ship_epoch (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    epoch       TEXT    NOT NULL,
    created_at  INTEGER NOT NULL        -- ms UTC
);
INSERT INTO ship_epoch (id, epoch, created_at)
VALUES (1, lower(hex(randomblob(16))), CAST(strftime('%s', 'now') AS INTEGER) * 1000);

-- ship_outbox: one row per insert or update of a row that can change after it is written (runs get
-- stopped_at, instances get ended_at, zombie and orphan intervals are extended) or that has no
-- increasing id (operator_effects, keyed by instance_id). The triggers below fill it inside the writer's
-- own transaction, so a change and its outbox row commit together or not at all. histd-ship reads the
-- outbox after its central cursor (ship_cursor.outbox_seq in PostgreSQL), ships the row's current
-- state as an upsert and advances the cursor in the same central transaction. events are insert-only:
-- histd-ship tails them by id (ship_cursor.event_id), which keeps the writer's hot path at one insert
-- per event. AUTOINCREMENT: a seq is never reused, even after retention deletes the newest rows.
-- events.id is not AUTOINCREMENT: once retention empties the table, ids start again at 1. The
-- 'events_reset' entry (trigger ship_events_emptied) tells histd-ship so, in order: it ships no events
-- until it reaches that entry, then starts its event cursor again at 0 (central keys include ts).
CREATE TABLE ship_outbox (
    seq     INTEGER PRIMARY KEY AUTOINCREMENT,
    tbl     TEXT    NOT NULL CHECK (tbl IN ('runs', 'programs', 'instances', 'operator_effects',
                                            'zombie_parents', 'orphans', 'events_reset')),
    row_id  INTEGER NOT NULL         -- the table's id (operator_effects: instance_id; events_reset: the last id deleted)
);
CREATE INDEX ship_outbox_resets ON ship_outbox(seq) WHERE tbl = 'events_reset';

CREATE TRIGGER ship_runs_insert AFTER INSERT ON runs
BEGIN INSERT INTO ship_outbox (tbl, row_id) VALUES ('runs', NEW.id); END;
CREATE TRIGGER ship_runs_update AFTER UPDATE ON runs
BEGIN INSERT INTO ship_outbox (tbl, row_id) VALUES ('runs', NEW.id); END;
CREATE TRIGGER ship_programs_insert AFTER INSERT ON programs
BEGIN INSERT INTO ship_outbox (tbl, row_id) VALUES ('programs', NEW.id); END;
CREATE TRIGGER ship_programs_update AFTER UPDATE ON programs
BEGIN INSERT INTO ship_outbox (tbl, row_id) VALUES ('programs', NEW.id); END;
CREATE TRIGGER ship_instances_insert AFTER INSERT ON instances
BEGIN INSERT INTO ship_outbox (tbl, row_id) VALUES ('instances', NEW.id); END;
CREATE TRIGGER ship_instances_update AFTER UPDATE ON instances
BEGIN INSERT INTO ship_outbox (tbl, row_id) VALUES ('instances', NEW.id); END;
CREATE TRIGGER ship_operator_effects_insert AFTER INSERT ON operator_effects
BEGIN INSERT INTO ship_outbox (tbl, row_id) VALUES ('operator_effects', NEW.instance_id); END;
CREATE TRIGGER ship_zombie_parents_insert AFTER INSERT ON zombie_parents
BEGIN INSERT INTO ship_outbox (tbl, row_id) VALUES ('zombie_parents', NEW.id); END;
CREATE TRIGGER ship_zombie_parents_update AFTER UPDATE ON zombie_parents
BEGIN INSERT INTO ship_outbox (tbl, row_id) VALUES ('zombie_parents', NEW.id); END;
CREATE TRIGGER ship_orphans_insert AFTER INSERT ON orphans
BEGIN INSERT INTO ship_outbox (tbl, row_id) VALUES ('orphans', NEW.id); END;
CREATE TRIGGER ship_orphans_update AFTER UPDATE ON orphans
BEGIN INSERT INTO ship_outbox (tbl, row_id) VALUES ('orphans', NEW.id); END;

CREATE TRIGGER ship_events_emptied AFTER DELETE ON events WHEN NOT EXISTS (SELECT 1 FROM events)
BEGIN INSERT INTO ship_outbox (tbl, row_id) VALUES ('events_reset', OLD.id); END;

-- A database migrated to 0012 with history in it: every existing row is owed to the central side once.
INSERT INTO ship_outbox (tbl, row_id) SELECT 'runs', id FROM runs ORDER BY id;
INSERT INTO ship_outbox (tbl, row_id) SELECT 'programs', id FROM programs ORDER BY id;
INSERT INTO ship_outbox (tbl, row_id) SELECT 'instances', id FROM instances ORDER BY id;
INSERT INTO ship_outbox (tbl, row_id) SELECT DISTINCT 'operator_effects', instance_id FROM operator_effects;
INSERT INTO ship_outbox (tbl, row_id) SELECT 'zombie_parents', id FROM zombie_parents ORDER BY id;
INSERT INTO ship_outbox (tbl, row_id) SELECT 'orphans', id FROM orphans ORDER BY id;
