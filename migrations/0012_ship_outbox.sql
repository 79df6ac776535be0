-- 0012_ship_outbox: what histd-ship (docs/FLEET.md) copies to the central PostgreSQL. Never edit once landed.
--
-- Nothing here fires on a write: a host that does not ship pays nothing on the writer's hot path. The
-- triggers that fill ship_outbox are TEMP triggers that histd's writer creates on its own connection only
-- while [ship] is configured (Sources/HistStore/ShipCapture.swift), so they exist exactly as long as
-- someone will read the outbox.
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

-- ship_capture: one row, whether the writer captured changes into ship_outbox (1) or not (0) since
-- changed_at. histd's writer sets it as it opens the file: 0 when [ship] is absent; 1 when [ship] is set,
-- and if it was 0, in the same transaction, a resync: the outbox is emptied (but for 'events_reset') and
-- one 'resync' entry says "every live row of the tables below is owed again": histd-ship copies them
-- whole, by key, in batches, when its cursor reaches that entry (rows changed while nothing captured
-- them reach PostgreSQL; the upserts make the re-sent ones no-ops). One entry, not one per row: the
-- writer's open stays O(1) however long the history (one entry per row took 8 s of CPU on the 30-day
-- fixture's 3.66 M instances). histd-ship ships nothing while enabled is 0 (it says so).
CREATE TABLE ship_capture (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    enabled     INTEGER NOT NULL CHECK (enabled IN (0, 1)),
    changed_at  INTEGER NOT NULL        -- ms UTC
);
INSERT INTO ship_capture (id, enabled, changed_at) VALUES (1, 0, CAST(strftime('%s', 'now') AS INTEGER) * 1000);

-- ship_outbox: at most one row per (tbl, row_id): "this row changed after seq". It names the rows that can
-- change after they are written (runs get stopped_at, instances get ended_at, zombie and orphan intervals
-- are extended) or that have no increasing id (operator_effects, keyed by instance_id). While capture is
-- on, the writer's TEMP triggers fill it inside the writer's own transaction, so a change and its outbox
-- row commit together or not at all. A change to a row that already has an entry deletes that entry and
-- inserts a new one: AUTOINCREMENT gives it a new, higher seq, so a shipper whose cursor passed the old
-- entry sees the row again, once, and ships its current state. When retention deletes a row, its entry
-- goes too, so the outbox is bounded by the live rows.
-- histd-ship reads the outbox after its central cursor (ship_cursor.outbox_seq in PostgreSQL), ships the
-- row's current state as an upsert and advances the cursor in the same central transaction.
-- events are insert-only: histd-ship tails them by id (ship_cursor.event_id), which keeps the writer's
-- hot path at one insert per event, shipping or not. events.id is not AUTOINCREMENT: once retention
-- empties the table, ids start again at 1. Retention itself (the writer's code, not a trigger, so whether
-- or not capture is on) then records an 'events_reset' entry: histd-ship ships no events until it reaches
-- that entry, then starts its event cursor again at 0 (central keys include ts). Only the newest reset is
-- kept: a shipper behind two resets lost nothing by skipping to the second, since the events between them
-- were deleted.
CREATE TABLE ship_outbox (
    seq     INTEGER PRIMARY KEY AUTOINCREMENT,
    tbl     TEXT    NOT NULL CHECK (tbl IN ('runs', 'programs', 'instances', 'operator_effects',
                                            'zombie_parents', 'orphans', 'events_reset', 'resync', 'ship_gaps')),
    row_id  INTEGER NOT NULL,        -- the table's id (operator_effects: instance_id; events_reset: the last id deleted; resync: 0)
    UNIQUE (tbl, row_id)
);
CREATE INDEX ship_outbox_resets ON ship_outbox(seq) WHERE tbl = 'events_reset';

-- ship_gaps: rows retention deleted before histd-ship shipped them (docs/FLEET.md, "Backpressure"). While
-- capture is on, retention keeps rows not shipped yet (events after the shipper's event id; rows whose
-- outbox entry is after its outbox seq, as histd-ship reports them in <db>.ship-state) past the retention
-- period, up to [ship] ship_max_backlog (an estimate of their bytes). Past the cap it deletes the oldest
-- of them anyway, and records here what went, in the same transaction as the delete, with an outbox
-- entry ('ship_gaps', id), so the gap is shipped to the central ship_gaps table too: both sides see the
-- hole. Insert-only; retention never deletes these rows.
CREATE TABLE ship_gaps (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    at          INTEGER NOT NULL,       -- ms UTC, when retention deleted them
    tbl         TEXT    NOT NULL CHECK (tbl IN ('events', 'instances', 'zombie_parents', 'orphans')),
    rows        INTEGER NOT NULL,       -- how many unshipped rows of tbl were deleted
    first_id    INTEGER NOT NULL,       -- the lowest and highest id among them
    last_id     INTEGER NOT NULL,
    first_ts    INTEGER,                -- their oldest and newest time (events.ts; instances.ended_at; last_seen), ms UTC
    last_ts     INTEGER,
    reason      TEXT    NOT NULL,       -- 'ship_max_backlog'
    held_bytes  INTEGER NOT NULL,       -- the estimated size of the unshipped rows past retention, before the delete
    cap_bytes   INTEGER NOT NULL        -- ship_max_backlog
);
