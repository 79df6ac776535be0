-- 0015_day_rollups: derived, exact per-day summaries of the hour rollups of 0011, for `histctl loops`
-- over long ranges (docs/SCHEMA.md, "Rollups"). Never edit once landed.
--
-- A day is `hour - hour % 86400000` of an hour row (for times after 1970: the UTC day). An hour row lies
-- wholly inside one day, so a day row is exactly its day's hour rows aggregated: histctl loops reads the
-- whole days of its range here and only the partial days at its ends from the hour rows (30 days: ~6 k day
-- rows and up to ~10 k hour rows instead of ~104 k loop_hours and ~130 k program_hours rows). They are kept
-- exact by the writer (HistStore LoopRollup and ProgramHours add each transaction's totals to their day
-- as well as to their hour, in the same transaction: one more UPSERT per key) and by retention (which
-- recomputes the days of every hour row it recomputes or deletes, from the hour rows left: HistStore
-- DayRollups).

-- loop_days: loop_hours summed per day, program and worker slot.
CREATE TABLE loop_days (
    day                INTEGER NOT NULL,   -- hour - hour % 86400000 of the loop_hours rows (ms)
    program_id         INTEGER NOT NULL,   -- programs.id
    worker             INTEGER NOT NULL,   -- pool worker slot, -1 for a plain program
    members            INTEGER NOT NULL,   -- SUM(loop_hours.members)
    first_ms           INTEGER NOT NULL,   -- MIN(loop_hours.first_ms)
    last_ms            INTEGER NOT NULL,   -- MAX(loop_hours.last_ms)
    longest_uptime_ms  INTEGER,            -- MAX(loop_hours.longest_uptime_ms) (NULL: only spawn failures)
    PRIMARY KEY (day, program_id, worker)
) WITHOUT ROWID;

-- program_days: per program and day with a restart delay, the longest one scheduled (the maximum of the
-- day's program_hours.max_restart_delay_ms). Days without one have no row. Keyed by program first, like
-- program_hours: histctl loops reads one primary-key range per loop.
CREATE TABLE program_days (
    program_id            INTEGER NOT NULL,   -- programs.id
    day                   INTEGER NOT NULL,   -- hour - hour % 86400000 of the program_hours rows (ms)
    max_restart_delay_ms  INTEGER NOT NULL,   -- MAX(program_hours.max_restart_delay_ms) of the day
    PRIMARY KEY (program_id, day)
) WITHOUT ROWID;

-- The rows for the existing history: the same statements as HistStore's DayRollups.loopRebuildSQL and
-- programRebuildSQL with the whole time range (-2^62 ..< 2^62), read from the hour tables only.
INSERT INTO loop_days (day, program_id, worker, members, first_ms, last_ms, longest_uptime_ms)
SELECT h.hour - h.hour % 86400000, h.program_id, h.worker, SUM(h.members), MIN(h.first_ms), MAX(h.last_ms),
       MAX(h.longest_uptime_ms)
FROM loop_hours h
WHERE h.hour > -4611686018427387904 - 86400000 AND h.hour < 4611686018427387904 + 86400000
  AND h.hour - h.hour % 86400000 >= -4611686018427387904 AND h.hour - h.hour % 86400000 <= 4611686018427387904
GROUP BY 1, 2, 3;

INSERT INTO program_days (program_id, day, max_restart_delay_ms)
SELECT h.program_id, h.hour - h.hour % 86400000, MAX(h.max_restart_delay_ms)
FROM programs p
JOIN program_hours h ON h.program_id = p.id AND h.hour > -4611686018427387904 - 86400000 AND h.hour < 4611686018427387904 + 86400000
WHERE h.max_restart_delay_ms IS NOT NULL
  AND h.hour - h.hour % 86400000 >= -4611686018427387904 AND h.hour - h.hour % 86400000 <= 4611686018427387904
GROUP BY 1, 2;
