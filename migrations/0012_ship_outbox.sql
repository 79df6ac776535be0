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

-- ship_outbox: at most one row per (tbl, row_id): "this row changed after seq". It names the rows that can
-- change after they are written (runs get stopped_at, instances get ended_at, zombie and orphan intervals
-- are extended) or that have no increasing id (operator_effects, keyed by instance_id). The triggers below
-- fill it inside the writer's own transaction, so a change and its outbox row commit together or not at
-- all. A change to a row that already has an entry deletes that entry and inserts a new one: AUTOINCREMENT
-- gives it a new, higher seq, so a shipper whose cursor passed the old entry sees the row again, once, and
-- ships its current state. When retention deletes a row, its entry goes too (the *_delete triggers, in
-- retention's own transaction), so the outbox is bounded by the live rows, whether or not anything ships.
-- histd-ship reads the outbox after its central cursor (ship_cursor.outbox_seq in PostgreSQL), ships the
-- row's current state as an upsert and advances the cursor in the same central transaction; a row deleted
-- locally is not shipped again, and its central copy stays until central retention drops its partition.
-- events are insert-only: histd-ship tails them by id (ship_cursor.event_id), which keeps the writer's
-- hot path at one insert per event. AUTOINCREMENT: a seq is never reused, even after entries are deleted.
-- events.id is not AUTOINCREMENT: once retention empties the table, ids start again at 1. The
-- 'events_reset' entry (trigger ship_events_emptied) tells histd-ship so, in order: it ships no events
-- until it reaches that entry, then starts its event cursor again at 0 (central keys include ts). Only the
-- newest reset is kept: a shipper behind two resets lost nothing by skipping to the second, since the
-- events between them were deleted by it.
-- DELETE then a plain INSERT, not INSERT OR REPLACE: a trigger's conflict clause is overridden by the
-- firing statement's (an INSERT OR IGNORE into runs would make the REPLACE an IGNORE and keep the old seq).
CREATE TABLE ship_outbox (
    seq     INTEGER PRIMARY KEY AUTOINCREMENT,
    tbl     TEXT    NOT NULL CHECK (tbl IN ('runs', 'programs', 'instances', 'operator_effects',
                                            'zombie_parents', 'orphans', 'events_reset')),
    row_id  INTEGER NOT NULL,        -- the table's id (operator_effects: instance_id; events_reset: the last id deleted)
    UNIQUE (tbl, row_id)
);
CREATE INDEX ship_outbox_resets ON ship_outbox(seq) WHERE tbl = 'events_reset';

CREATE TRIGGER ship_runs_insert AFTER INSERT ON runs
BEGIN
    DELETE FROM ship_outbox WHERE tbl = 'runs' AND row_id = NEW.id;
    INSERT INTO ship_outbox (tbl, row_id) VALUES ('runs', NEW.id);
END;
CREATE TRIGGER ship_runs_update AFTER UPDATE ON runs
BEGIN
    DELETE FROM ship_outbox WHERE tbl = 'runs' AND row_id = NEW.id;
    INSERT INTO ship_outbox (tbl, row_id) VALUES ('runs', NEW.id);
END;
CREATE TRIGGER ship_programs_insert AFTER INSERT ON programs
BEGIN
    DELETE FROM ship_outbox WHERE tbl = 'programs' AND row_id = NEW.id;
    INSERT INTO ship_outbox (tbl, row_id) VALUES ('programs', NEW.id);
END;
CREATE TRIGGER ship_programs_update AFTER UPDATE ON programs
BEGIN
    DELETE FROM ship_outbox WHERE tbl = 'programs' AND row_id = NEW.id;
    INSERT INTO ship_outbox (tbl, row_id) VALUES ('programs', NEW.id);
END;
CREATE TRIGGER ship_instances_insert AFTER INSERT ON instances
BEGIN
    DELETE FROM ship_outbox WHERE tbl = 'instances' AND row_id = NEW.id;
    INSERT INTO ship_outbox (tbl, row_id) VALUES ('instances', NEW.id);
END;
CREATE TRIGGER ship_instances_update AFTER UPDATE ON instances
BEGIN
    DELETE FROM ship_outbox WHERE tbl = 'instances' AND row_id = NEW.id;
    INSERT INTO ship_outbox (tbl, row_id) VALUES ('instances', NEW.id);
END;
CREATE TRIGGER ship_operator_effects_insert AFTER INSERT ON operator_effects
BEGIN
    DELETE FROM ship_outbox WHERE tbl = 'operator_effects' AND row_id = NEW.instance_id;
    INSERT INTO ship_outbox (tbl, row_id) VALUES ('operator_effects', NEW.instance_id);
END;
CREATE TRIGGER ship_zombie_parents_insert AFTER INSERT ON zombie_parents
BEGIN
    DELETE FROM ship_outbox WHERE tbl = 'zombie_parents' AND row_id = NEW.id;
    INSERT INTO ship_outbox (tbl, row_id) VALUES ('zombie_parents', NEW.id);
END;
CREATE TRIGGER ship_zombie_parents_update AFTER UPDATE ON zombie_parents
BEGIN
    DELETE FROM ship_outbox WHERE tbl = 'zombie_parents' AND row_id = NEW.id;
    INSERT INTO ship_outbox (tbl, row_id) VALUES ('zombie_parents', NEW.id);
END;
CREATE TRIGGER ship_orphans_insert AFTER INSERT ON orphans
BEGIN
    DELETE FROM ship_outbox WHERE tbl = 'orphans' AND row_id = NEW.id;
    INSERT INTO ship_outbox (tbl, row_id) VALUES ('orphans', NEW.id);
END;
CREATE TRIGGER ship_orphans_update AFTER UPDATE ON orphans
BEGIN
    DELETE FROM ship_outbox WHERE tbl = 'orphans' AND row_id = NEW.id;
    INSERT INTO ship_outbox (tbl, row_id) VALUES ('orphans', NEW.id);
END;

-- Retention deletes rows: their entries go with them (an operator_effects entry when the instance's last
-- effect goes).
CREATE TRIGGER ship_runs_delete AFTER DELETE ON runs
BEGIN DELETE FROM ship_outbox WHERE tbl = 'runs' AND row_id = OLD.id; END;
CREATE TRIGGER ship_programs_delete AFTER DELETE ON programs
BEGIN DELETE FROM ship_outbox WHERE tbl = 'programs' AND row_id = OLD.id; END;
CREATE TRIGGER ship_instances_delete AFTER DELETE ON instances
BEGIN DELETE FROM ship_outbox WHERE tbl = 'instances' AND row_id = OLD.id; END;
CREATE TRIGGER ship_zombie_parents_delete AFTER DELETE ON zombie_parents
BEGIN DELETE FROM ship_outbox WHERE tbl = 'zombie_parents' AND row_id = OLD.id; END;
CREATE TRIGGER ship_orphans_delete AFTER DELETE ON orphans
BEGIN DELETE FROM ship_outbox WHERE tbl = 'orphans' AND row_id = OLD.id; END;
CREATE TRIGGER ship_operator_effects_delete AFTER DELETE ON operator_effects
WHEN NOT EXISTS (SELECT 1 FROM operator_effects WHERE instance_id = OLD.instance_id)
BEGIN DELETE FROM ship_outbox WHERE tbl = 'operator_effects' AND row_id = OLD.instance_id; END;

CREATE TRIGGER ship_events_emptied AFTER DELETE ON events WHEN NOT EXISTS (SELECT 1 FROM events)
BEGIN
    DELETE FROM ship_outbox WHERE tbl = 'events_reset';
    INSERT INTO ship_outbox (tbl, row_id) VALUES ('events_reset', OLD.id);
END;

-- A database migrated to 0012 with history in it: every existing row is owed to the central side once.
INSERT INTO ship_outbox (tbl, row_id) SELECT 'runs', id FROM runs ORDER BY id;
INSERT INTO ship_outbox (tbl, row_id) SELECT 'programs', id FROM programs ORDER BY id;
INSERT INTO ship_outbox (tbl, row_id) SELECT 'instances', id FROM instances ORDER BY id;
INSERT INTO ship_outbox (tbl, row_id) SELECT DISTINCT 'operator_effects', instance_id FROM operator_effects;
INSERT INTO ship_outbox (tbl, row_id) SELECT 'zombie_parents', id FROM zombie_parents ORDER BY id;
INSERT INTO ship_outbox (tbl, row_id) SELECT 'orphans', id FROM orphans ORDER BY id;
