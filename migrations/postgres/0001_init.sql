-- 0001_init: the central fleet schema (docs/FLEET.md). Applied by histd-ship or `histctl fleet migrate`,
-- in one transaction under an advisory lock, recorded in fleet_migrations. Never edit once landed.
--
-- Every row carries the host that shipped it (host_id), the local database file it came from (db_epoch:
-- ship_epoch in the host's SQLite, new when the file is recreated) and the local outbox seq or event id
-- that last shipped it (seq). Local ids are only unique within (host_id, db_epoch): they are part of
-- every key. Times are ms since the epoch UTC, as in the local schema (docs/SCHEMA.md).

-- One row per host: the epoch it ships now and when it last shipped. Fleet status reads fleet_status
-- (below), never a scan of events.
-- machine_id: /etc/machine-id of the machine that ships as host_id (NULL when it has none). The default
-- host_id is the hostname; the pin makes a second machine with the same hostname fail loudly instead of
-- mixing its rows into the first one's (histd-ship refuses; set host_id on one of them).
CREATE TABLE hosts (
    host_id          text   PRIMARY KEY,
    machine_id       text,
    db_epoch         text   NOT NULL,
    first_shipped_at bigint NOT NULL,
    last_shipped_at  bigint NOT NULL
);

-- The central cursor, per (host_id, db_epoch): advanced in the same transaction as the rows it covers.
CREATE TABLE ship_cursor (
    host_id     text   NOT NULL,
    db_epoch    text   NOT NULL,
    outbox_seq  bigint NOT NULL DEFAULT 0,  -- the last local ship_outbox.seq shipped
    event_id    bigint NOT NULL DEFAULT 0,  -- the last local events.id shipped
    -- Inside a local 'resync' entry (the next outbox entry): the table being copied whole and the last
    -- key copied; NULL otherwise (docs/FLEET.md, "Turning shipping on later").
    resync_table text,
    resync_key   bigint,
    shipped_at  bigint NOT NULL,
    PRIMARY KEY (host_id, db_epoch)
);

CREATE TABLE runs (
    host_id text NOT NULL, db_epoch text NOT NULL, seq bigint NOT NULL,
    id bigint NOT NULL, host text NOT NULL, pid bigint NOT NULL, version text NOT NULL,
    config_path text, config_hash text, boot_id text,
    started_at bigint NOT NULL, stopped_at bigint, stop_reason text,
    PRIMARY KEY (host_id, db_epoch, id)
);

CREATE TABLE programs (
    host_id text NOT NULL, db_epoch text NOT NULL, seq bigint NOT NULL,
    id bigint NOT NULL, name text NOT NULL, kind text NOT NULL,
    PRIMARY KEY (host_id, db_epoch, id)
);

CREATE TABLE instances (
    host_id text NOT NULL, db_epoch text NOT NULL, seq bigint NOT NULL,
    id bigint NOT NULL, run_id bigint NOT NULL, program_id bigint NOT NULL, worker_index bigint,
    pid bigint NOT NULL, start_ticks bigint NOT NULL, started_at bigint NOT NULL, ended_at bigint,
    exit_code bigint, signal bigint, core_dumped bigint NOT NULL, class text, uptime_ms bigint,
    stderr_tail text,
    PRIMARY KEY (host_id, db_epoch, id)
);
CREATE INDEX instances_crashes ON instances (ended_at, host_id, db_epoch, program_id)
    WHERE class IN ('crash', 'limit');
CREATE INDEX instances_program ON instances (host_id, db_epoch, program_id, started_at);

-- events: insert-only, the big table. Partitioned by day of ts (native range partitioning on ms):
-- histd-ship creates events_YYYYMMDD before it inserts into that day; retention drops whole days.
CREATE TABLE events (
    host_id text NOT NULL, db_epoch text NOT NULL, seq bigint NOT NULL,
    id bigint NOT NULL, ts bigint NOT NULL, kind integer NOT NULL, run_id bigint, program_id bigint,
    instance_id bigint, value bigint, detail text,
    PRIMARY KEY (host_id, db_epoch, id, ts)
) PARTITION BY RANGE (ts);
CREATE INDEX events_kind_ts ON events (kind, ts);
CREATE INDEX events_instance ON events (host_id, db_epoch, instance_id, kind);

CREATE TABLE event_kinds (id integer PRIMARY KEY, name text NOT NULL UNIQUE);
INSERT INTO event_kinds (id, name) VALUES
    (1, 'start'), (2, 'exit'), (3, 'crash'), (4, 'restart_scheduled'), (5, 'gave_up'),
    (6, 'stop_requested'), (7, 'killed'), (8, 'limit_breach'), (9, 'spawn_failed'),
    (10, 'scale_up'), (11, 'scale_down'), (12, 'recycled'), (13, 'supervisor_start'),
    (14, 'supervisor_stop'), (15, 'recording_gap'), (16, 'leftover'), (17, 'adopted'),
    (20, 'operator_action');

CREATE TABLE operator_effects (
    host_id text NOT NULL, db_epoch text NOT NULL, seq bigint NOT NULL,
    instance_id bigint NOT NULL, effect text NOT NULL, run_id bigint NOT NULL, action_seq bigint NOT NULL,
    PRIMARY KEY (host_id, db_epoch, instance_id, effect, run_id, action_seq)
);

CREATE TABLE zombie_parents (
    host_id text NOT NULL, db_epoch text NOT NULL, seq bigint NOT NULL,
    id bigint NOT NULL, parent_pid bigint NOT NULL, parent_start_ticks bigint NOT NULL,
    parent_name text NOT NULL, parent_cmdline text NOT NULL, max_zombies bigint NOT NULL,
    last_zombies bigint NOT NULL, first_seen bigint NOT NULL, last_seen bigint NOT NULL, scans bigint NOT NULL,
    PRIMARY KEY (host_id, db_epoch, id)
);

CREATE TABLE orphans (
    host_id text NOT NULL, db_epoch text NOT NULL, seq bigint NOT NULL,
    id bigint NOT NULL, pid bigint NOT NULL, start_ticks bigint NOT NULL, name text NOT NULL,
    cmdline text NOT NULL, "user" text NOT NULL, started_at bigint NOT NULL, program_id bigint,
    reason text NOT NULL, first_seen bigint NOT NULL, last_seen bigint NOT NULL, scans bigint NOT NULL,
    PRIMARY KEY (host_id, db_epoch, id)
);

-- fleet_status: the latest state per (host, program), kept by histd-ship in the same transaction as
-- the instances it ships (an instance replaces the row only when it is the program's newest:
-- (started_at, id) larger). `histctl --db postgres://... status` reads this table and hosts: one row
-- per program, so 100 hosts answer in milliseconds.
CREATE TABLE fleet_status (
    host_id        text   NOT NULL,
    db_epoch       text   NOT NULL,
    program_id     bigint NOT NULL,
    instance_id    bigint NOT NULL,
    started_at     bigint NOT NULL,
    pid            bigint NOT NULL,
    ended_at       bigint,
    exit_code      bigint,
    signal         bigint,
    class          text,
    PRIMARY KEY (host_id, db_epoch, program_id)
);

-- Rows a host's retention deleted before they were shipped (its local ship_gaps, migrations/0012): the
-- backlog outgrew [ship] ship_max_backlog while the host could not ship. Central has a hole there.
CREATE TABLE ship_gaps (
    host_id text NOT NULL, db_epoch text NOT NULL, seq bigint NOT NULL,
    id bigint NOT NULL, at bigint NOT NULL, tbl text NOT NULL, rows bigint NOT NULL,
    first_id bigint NOT NULL, last_id bigint NOT NULL, first_ts bigint, last_ts bigint,
    reason text NOT NULL, held_bytes bigint NOT NULL, cap_bytes bigint NOT NULL,
    PRIMARY KEY (host_id, db_epoch, id)
);
