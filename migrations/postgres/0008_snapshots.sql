-- 0008_snapshots: shipped snapshots ([ship] ship_snapshots = "10s", docs/FLEET.md). Applied by histd-ship or
-- `histctl fleet migrate`. Never edit once landed.
--
-- Per-process samples, downsampled by the host's shipper: of the local sweeps (one per snapshot_interval)
-- it ships the first of each ship_snapshots interval (the first sweep whose ts / interval differs from the
-- sweep before it), with every instance's snapshot in that sweep. Raw counters as locally (docs/SCHEMA.md,
-- `snapshots`), plus the sweep's ts, so a report needs no sweeps table: CPU% is derived from two adjacent
-- shipped samples of one instance (utime + stime over their ts), as the local snapshots_with_rates does.
-- Insert-only: seq is the local sweep id (as an event's seq is its id). Partitioned by day of ts like
-- events (histd-ship creates snapshots_YYYYMMDD before it inserts into that day); retention drops days:
-- DROP TABLE snapshots_20261101;
CREATE TABLE snapshots (
    host_id text NOT NULL, db_epoch text NOT NULL, seq bigint NOT NULL,
    sweep_id bigint NOT NULL, ts bigint NOT NULL, instance_id bigint NOT NULL,
    state text NOT NULL, utime bigint NOT NULL, stime bigint NOT NULL, rss_kb bigint NOT NULL, vsz_kb bigint NOT NULL,
    threads bigint NOT NULL, fds bigint NOT NULL, procs bigint NOT NULL,
    -- Sweep ids start again at 1 when local retention empties sweeps (local migration 0017); ts keeps
    -- the key unique across that, and a partitioned table's key must hold its partition column anyway.
    PRIMARY KEY (host_id, db_epoch, instance_id, ts, sweep_id)
) PARTITION BY RANGE (ts);
-- One host's samples in a window (fleet postmortem), whatever the instance.
CREATE INDEX snapshots_host_ts ON snapshots (host_id, ts);

-- The snapshot cursor: the last local sweep id looked at (shipped or skipped by the downsampling), and
-- the local ship_sweeps.resets count it belongs to (a different count: ids restarted, start again at 0).
ALTER TABLE ship_cursor ADD COLUMN sweep_id bigint NOT NULL DEFAULT 0;
ALTER TABLE ship_cursor ADD COLUMN sweep_resets bigint NOT NULL DEFAULT 0;

-- Event kinds the local schema added after central 0001 (local 0003, 0005, 0010): the fleet timeline names
-- kinds from this table, one events_kind_ts range per kind, so a kind missing here would be missing there.
INSERT INTO event_kinds (id, name) VALUES (30, 'swept'), (40, 'config_reload'), (60, 'storage_outage')
ON CONFLICT DO NOTHING;

-- When this host's shipper last found nothing left to ship (ms UTC, its clock): everything the host had
-- recorded by then is central. histd-ship writes it at most every 10 s while caught up, so it moves on an
-- idle host too; the fleet postmortem calls the record incomplete after it when it is more than a minute
-- older than the window's end (a host whose shipper stopped looks otherwise like a host where nothing
-- happened). NULL: not reported yet (or by a shipper older than 0008).
ALTER TABLE ship_cursor ADD COLUMN caught_up_at bigint;
