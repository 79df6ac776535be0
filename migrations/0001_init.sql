-- 0001_init: the history schema. Never edit once landed; add 0002_... instead.
--
-- Conventions (docs/SCHEMA.md has the full reference):
--   * every timestamp column (ts, *_at, first_seen, last_seen) is INTEGER milliseconds since the Unix epoch, UTC;
--   * every duration column ends in _ms and is INTEGER milliseconds;
--   * sizes are INTEGER bytes unless the name says _kb;
--   * CPU counters are raw cumulative clock ticks (utime/stime); rates are derived in views.

-- One row per histd start.
CREATE TABLE runs (
    id           INTEGER PRIMARY KEY,
    host         TEXT    NOT NULL,
    pid          INTEGER NOT NULL,
    version      TEXT    NOT NULL,
    config_path  TEXT,
    config_hash  TEXT,
    boot_id      TEXT,                   -- /proc/sys/kernel/random/boot_id: start ticks are only comparable within a boot
    started_at   INTEGER NOT NULL,
    stopped_at   INTEGER,                -- NULL while running, or if histd died (closed as 'unclean' by the next start)
    stop_reason  TEXT CHECK (stop_reason IN ('clean', 'unclean', 'signal'))
);
CREATE INDEX runs_started ON runs(started_at);

-- Programs and pools by name. Their config, as it was in force, is in program_configs.
CREATE TABLE programs (
    id    INTEGER PRIMARY KEY,
    name  TEXT NOT NULL UNIQUE,
    kind  TEXT NOT NULL DEFAULT 'program' CHECK (kind IN ('program', 'pool'))
);

CREATE TABLE program_configs (
    id          INTEGER PRIMARY KEY,
    program_id  INTEGER NOT NULL REFERENCES programs(id),
    run_id      INTEGER NOT NULL REFERENCES runs(id),
    config_json TEXT    NOT NULL,
    UNIQUE (program_id, run_id)
);

-- One row per spawned process.
CREATE TABLE instances (
    id           INTEGER PRIMARY KEY,
    run_id       INTEGER NOT NULL REFERENCES runs(id),
    program_id   INTEGER NOT NULL REFERENCES programs(id),
    worker_index INTEGER,                -- pool worker slot, NULL for plain programs
    pid          INTEGER NOT NULL,
    start_ticks  INTEGER NOT NULL,       -- kernel start time (clock ticks since boot): (pid, start_ticks) is the identity
    started_at   INTEGER NOT NULL,
    ended_at     INTEGER,                -- NULL while alive (or if histd died before seeing the end)
    exit_code    INTEGER,                -- NULL when killed by a signal
    signal       INTEGER,                -- NULL when it exited
    core_dumped  INTEGER NOT NULL DEFAULT 0,
    class        TEXT CHECK (class IN ('clean', 'crash', 'stopped', 'killed', 'limit', 'spawn_failed')),
    uptime_ms    INTEGER,
    stderr_tail  TEXT
);
CREATE INDEX instances_program_started ON instances(program_id, started_at);
CREATE INDEX instances_pid ON instances(pid, start_ticks);
CREATE INDEX instances_open ON instances(run_id) WHERE ended_at IS NULL;
-- "crashes since T" (the crashes view filters on ended_at) and retention (prunes by ended_at).
CREATE INDEX instances_ended ON instances(ended_at) WHERE ended_at IS NOT NULL;
-- Crashes and limit kills by program, then end time, covering everything `histctl crashes --summary` and
-- `histctl loops` read: per-program counts and crash-loop windows walk it in (program, time) order with
-- no table lookup and no sort. Partial (about half the instances end this way) and written once, when
-- the instance ends. About 30 B per entry.
CREATE INDEX instances_crashes ON instances(program_id, ended_at, class, exit_code, signal, worker_index, uptime_ms)
    WHERE class IN ('crash', 'limit');

-- Event kinds by number (events.kind); names are the public vocabulary.
CREATE TABLE event_kinds (
    id    INTEGER PRIMARY KEY,
    name  TEXT NOT NULL UNIQUE
);
INSERT INTO event_kinds (id, name) VALUES
    (1, 'start'), (2, 'exit'), (3, 'crash'), (4, 'restart_scheduled'), (5, 'gave_up'),
    (6, 'stop_requested'), (7, 'killed'), (8, 'limit_breach'), (9, 'spawn_failed'),
    (10, 'scale_up'), (11, 'scale_down'), (12, 'recycled'), (13, 'supervisor_start'),
    (14, 'supervisor_stop'), (15, 'recording_gap'), (16, 'leftover'), (17, 'adopted');

-- The append-only timeline. Kind-specific fields:
--   value:  restart_scheduled: delay_ms | scale_*: new size | recording_gap: events dropped |
--           spawn_failed: errno | limit_breach: observed value | stop_requested: signal | killed: waited_ms |
--           gave_up: restarts | exit/crash: uptime_ms
--   detail: JSON object with the remaining fields (see docs/SCHEMA.md), NULL when there are none.
CREATE TABLE events (
    id          INTEGER PRIMARY KEY,
    ts          INTEGER NOT NULL,
    kind        INTEGER NOT NULL REFERENCES event_kinds(id),
    run_id      INTEGER REFERENCES runs(id),
    program_id  INTEGER REFERENCES programs(id),
    instance_id INTEGER REFERENCES instances(id),
    value       INTEGER,
    detail      TEXT
);
-- One index only, to keep an event row near 50 bytes: "events of kind K since T" (covering for per-program
-- counts, and for per-program maxima of value, e.g. the longest restart delay: value costs about 1 B per
-- event here and saves a table lookup per event). The merged timeline by time uses it too, one range per
-- kind: filter by kind, or query the event_log view (which loops over event_kinds), never
-- `events WHERE ts ...` alone (that scans the table).
CREATE INDEX events_kind_ts ON events(kind, ts, program_id, value);

-- One row per sampling sweep; snapshots point at it, which keeps snapshot rows small.
CREATE TABLE sweeps (
    id  INTEGER PRIMARY KEY,
    ts  INTEGER NOT NULL
);
CREATE INDEX sweeps_ts ON sweeps(ts);

-- Per-instance samples (the instance's whole process tree). Raw counters.
CREATE TABLE snapshots (
    sweep_id     INTEGER NOT NULL,
    instance_id  INTEGER NOT NULL,
    state        TEXT    NOT NULL,       -- root process state letter: R S D Z T ...
    utime        INTEGER NOT NULL,       -- clock ticks, cumulative
    stime        INTEGER NOT NULL,       -- clock ticks, cumulative
    rss_kb       INTEGER NOT NULL,
    vsz_kb       INTEGER NOT NULL,
    threads      INTEGER NOT NULL,
    fds          INTEGER NOT NULL,
    procs        INTEGER NOT NULL,
    PRIMARY KEY (sweep_id, instance_id)
) WITHOUT ROWID;
-- No (instance_id, ...) index, to keep a snapshot row near 30 bytes: "instance I between T1 and T2" goes
-- through sweeps_ts, then this primary key (one lookup per sweep in the range). Always filter snapshots by time.

-- System-wide scans.
CREATE TABLE scans (
    id            INTEGER PRIMARY KEY,
    ts            INTEGER NOT NULL,
    run_id        INTEGER,               -- NULL for `histd scan --once` from cron
    total         INTEGER NOT NULL,
    running       INTEGER NOT NULL,
    sleeping      INTEGER NOT NULL,
    disk_sleep    INTEGER NOT NULL,
    zombie        INTEGER NOT NULL,
    stopped       INTEGER NOT NULL,
    other         INTEGER NOT NULL,
    total_rss_kb  INTEGER NOT NULL
);
CREATE INDEX scans_ts ON scans(ts);

-- Zombie parents as intervals: extended while the same parent (pid, start_ticks) keeps zombies in consecutive scans.
CREATE TABLE zombie_parents (
    id                  INTEGER PRIMARY KEY,
    parent_pid          INTEGER NOT NULL,
    parent_start_ticks  INTEGER NOT NULL,
    parent_name         TEXT    NOT NULL,
    parent_cmdline      TEXT    NOT NULL,
    max_zombies         INTEGER NOT NULL,
    last_zombies        INTEGER NOT NULL,
    first_seen          INTEGER NOT NULL,
    last_seen           INTEGER NOT NULL,
    scans               INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX zombie_parents_last_seen ON zombie_parents(last_seen);
CREATE INDEX zombie_parents_identity ON zombie_parents(parent_pid, parent_start_ticks, last_seen);

-- Orphans as intervals, likewise.
CREATE TABLE orphans (
    id           INTEGER PRIMARY KEY,
    pid          INTEGER NOT NULL,
    start_ticks  INTEGER NOT NULL,
    name         TEXT    NOT NULL,
    cmdline      TEXT    NOT NULL,
    user         TEXT    NOT NULL,
    started_at   INTEGER NOT NULL,
    program_id   INTEGER REFERENCES programs(id),
    reason       TEXT    NOT NULL,
    first_seen   INTEGER NOT NULL,
    last_seen    INTEGER NOT NULL,
    scans        INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX orphans_last_seen ON orphans(last_seen);
CREATE INDEX orphans_identity ON orphans(pid, start_ticks, last_seen);
