-- 0017_ship_sweeps: shipping snapshots ([ship] ship_snapshots, docs/FLEET.md). Never edit once landed.
--
-- Snapshots are insert-only, so histd-ship tails them by sweep id (ship_cursor.sweep_id centrally), as it
-- tails events by id: no outbox entry per snapshot, and nothing on the writer's hot path. But sweeps.id is
-- not AUTOINCREMENT: once retention empties `sweeps` (nothing sampled for a whole snapshot_retention),
-- ids start again at 1, below a shipper's cursor, and every later snapshot would look shipped already.
-- Retention counts each such emptying here, in the transaction that emptied the table. The shipper's
-- cursor carries the count it belongs to: a count that moved on means "ids restarted", and the cursor
-- starts again at 0. (A count, not an outbox entry like 'events_reset': ship_outbox's CHECK names its
-- tables, and SQLite cannot change a CHECK without rebuilding the table.)
CREATE TABLE ship_sweeps (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    resets  INTEGER NOT NULL           -- times retention emptied sweeps
);
INSERT INTO ship_sweeps (id, resets) VALUES (1, 0);

-- ship_gaps may now name 'snapshots' too: past ship_max_backlog retention drops unshipped snapshots first
-- (first_id and last_id are then sweep ids, rows the snapshot rows). SQLite cannot change a CHECK in place,
-- so the table is rebuilt (it is small: one row per gap) with its rows, ids and AUTOINCREMENT counter.
CREATE TABLE ship_gaps_0017 (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    at          INTEGER NOT NULL,       -- ms UTC, when retention deleted them
    tbl         TEXT    NOT NULL CHECK (tbl IN ('events', 'instances', 'zombie_parents', 'orphans', 'snapshots')),
    rows        INTEGER NOT NULL,       -- how many unshipped rows of tbl were deleted
    first_id    INTEGER NOT NULL,       -- the lowest and highest id among them (snapshots: sweep ids)
    last_id     INTEGER NOT NULL,
    first_ts    INTEGER,                -- their oldest and newest time (events.ts; instances.ended_at; last_seen; sweeps.ts), ms UTC
    last_ts     INTEGER,
    reason      TEXT    NOT NULL,       -- 'ship_max_backlog'
    held_bytes  INTEGER NOT NULL,       -- the estimated size of the unshipped rows past retention, before the delete
    cap_bytes   INTEGER NOT NULL        -- ship_max_backlog
);
INSERT INTO ship_gaps_0017 SELECT id, at, tbl, rows, first_id, last_id, first_ts, last_ts, reason, held_bytes, cap_bytes FROM ship_gaps;
INSERT INTO sqlite_sequence (name, seq)
    SELECT 'ship_gaps_0017', seq FROM sqlite_sequence WHERE name = 'ship_gaps'
    AND NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'ship_gaps_0017');
UPDATE sqlite_sequence SET seq = max(seq, (SELECT seq FROM sqlite_sequence WHERE name = 'ship_gaps'))
    WHERE name = 'ship_gaps_0017' AND EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'ship_gaps');
DROP TABLE ship_gaps;
ALTER TABLE ship_gaps_0017 RENAME TO ship_gaps;
