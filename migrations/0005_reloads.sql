-- 0005_reloads: config reloads and config generations. Never edit once landed.
--
-- program_configs (0001) keeps one config per program and run: the config at the run's start. Every
-- config in force since, start and reloads alike, is a generation: config_generations has one row per
-- generation of a run (0 = the run's start, then 1, 2, ... per applied reload), and
-- program_config_generations the config of every program and pool in that generation.

-- Event kind 40: one event per reload attempt, value = reloads.id, detail = {result, trigger, sender_pid, sender_uid}.
INSERT INTO event_kinds (id, name) VALUES (40, 'config_reload');

-- Every reload attempt, applied or not (a refused, invalid or dry-run reload changes nothing, and is recorded).
CREATE TABLE reloads (
    id           INTEGER PRIMARY KEY,
    ts           INTEGER NOT NULL,                  -- ms since the epoch, UTC
    run_id       INTEGER REFERENCES runs(id),
    trigger      TEXT    NOT NULL CHECK (trigger IN ('sighup', 'socket')),
    sender_pid   INTEGER,                           -- SIGHUP: ssi_pid from signalfd (0 = the kernel); socket: SO_PEERCRED pid
    sender_uid   INTEGER,                           -- ssi_uid / SO_PEERCRED uid
    config_path  TEXT    NOT NULL,
    old_hash     TEXT,                              -- SHA-256 of the config in force before
    new_hash     TEXT,                              -- of the file read (NULL when it could not be read)
    dry_run      INTEGER NOT NULL DEFAULT 0,
    result       TEXT    NOT NULL CHECK (result IN ('applied', 'unchanged', 'invalid', 'refused', 'dry_run')),
    plan_json    TEXT,                              -- the plan (ReloadPlan as JSON), NULL when the file was invalid
    errors       TEXT                               -- FILE:LINE: KEY: message lines, for invalid and refused
);
CREATE INDEX reloads_ts ON reloads(ts);

CREATE TABLE config_generations (
    id           INTEGER PRIMARY KEY,
    run_id       INTEGER NOT NULL REFERENCES runs(id),
    generation   INTEGER NOT NULL,                  -- 0 = the run's start
    ts           INTEGER NOT NULL,
    config_hash  TEXT,
    reload_id    INTEGER REFERENCES reloads(id),    -- NULL for generation 0
    UNIQUE (run_id, generation)
);

CREATE TABLE program_config_generations (
    generation_id  INTEGER NOT NULL REFERENCES config_generations(id),
    program_id     INTEGER NOT NULL REFERENCES programs(id),
    config_json    TEXT    NOT NULL,
    PRIMARY KEY (generation_id, program_id)
) WITHOUT ROWID;

-- Runs recorded before this migration: their start config is generation 0.
INSERT INTO config_generations (run_id, generation, ts, config_hash)
    SELECT id, 0, started_at, config_hash FROM runs;
INSERT INTO program_config_generations (generation_id, program_id, config_json)
    SELECT g.id, c.program_id, c.config_json
    FROM program_configs c JOIN config_generations g ON g.run_id = c.run_id AND g.generation = 0;

-- Every program's config in every generation, with readable times.
CREATE VIEW config_history AS
SELECT g.run_id                                                    AS run_id,
       g.generation                                                AS generation,
       g.ts                                                        AS ts,
       strftime('%Y-%m-%dT%H:%M:%fZ', g.ts / 1000.0, 'unixepoch')  AS time,
       p.name                                                      AS program,
       p.kind                                                      AS kind,
       c.config_json                                               AS config_json,
       g.config_hash                                               AS config_hash,
       g.reload_id                                                 AS reload_id
FROM config_generations g
JOIN program_config_generations c ON c.generation_id = g.id
JOIN programs p ON p.id = c.program_id;

-- Reloads with readable times.
CREATE VIEW reload_log AS
SELECT r.id AS id, r.ts AS ts, strftime('%Y-%m-%dT%H:%M:%fZ', r.ts / 1000.0, 'unixepoch') AS time,
       r.run_id AS run_id, r.trigger AS trigger, r.sender_pid AS sender_pid, r.sender_uid AS sender_uid,
       r.config_path AS config_path, r.old_hash AS old_hash, r.new_hash AS new_hash, r.dry_run AS dry_run,
       r.result AS result, r.plan_json AS plan_json, r.errors AS errors,
       (SELECT g.generation FROM config_generations g WHERE g.reload_id = r.id) AS generation
FROM reloads r;

-- The supervisor's own kernel start time (clock ticks since boot, /proc/PID/stat field 22): with pid and
-- boot_id it identifies the histd process, so a reader can tell a live run from one whose histd died
-- (histctl status then shows 'unknown (histd not running since ...)'). NULL for runs recorded before.
ALTER TABLE runs ADD COLUMN start_ticks INTEGER;
