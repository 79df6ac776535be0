-- loops: crash loops. A program (or pool) is in a loop when at least :min_crashes crashes fall inside
-- one sliding window of :window_ms anywhere in the range. Crashes are the rows of crashes.sql (exit
-- class 'crash' or 'limit', and spawn_failed events); a pool's workers count together.
-- An end an operator caused (operator_effects 'ended', migrations/0004_operator_actions.sql: a stop,
-- restart, or a signal sent through histd) is not a crash here; a process killed by hand still is.
-- Parameters:
--   :since, :until   time range, ms since epoch UTC
--   :window_ms       sliding window length, ms
--   :min_crashes     crashes needed inside one window
--   :programs        JSON array of program names to keep; '[]' keeps all
-- Columns:
--   program              program or pool name
--   crashes              crashes that belong to a qualifying window
--   first                the first of those (ms UTC)
--   last                 the last of those (ms UTC)
--   longest_uptime_s     the longest any of those processes ran, seconds
--   max_restart_delay_s  the longest backoff scheduled between first and 5 s after last
--   gave_up              1 when histd gave up on it between first and :until
--   state                last known state (the program_states view)
--   workers              for a pool: the worker indexes whose crashes are in the loop (e.g. "0,2"); NULL for a program
-- Plan: when the window and crash count are the defaults (10 min, 3) and the range is long, the hours
-- that lie at least one window inside it, [:loop_from, :loop_until), come from the loop_hours rollup
-- (migrations/0011_loop_rollups.sql: exact, the crashes in loops by the same definition over the whole
-- history; inside the range minus one window on each side that is the same as within the range, since a
-- crash's membership depends only on the crashes within one window of it), grouped per program and worker
-- slot in one pass. The edges come from raw rows: per program two instances_crashes ranges (index-only, in
-- time order) plus two events_kind_ts ranges on (kind = 9, ts) for spawn failures, each edge with one
-- window of context, fed to histctl_crash_loop(), an aggregate that HistReports registers on its
-- connection (Sources/HistReports/CrashLoopAggregate.swift); context rows decide membership but are not
-- counted. Otherwise :loop_from = :loop_until = :until and every crash in the range is read raw. Of the
-- rollup's hours, the whole UTC days come from loop_days and only the hours at both ends from loop_hours.
-- The restart delays: the whole hours of each loop's span as a MAX over primary-key ranges per loop
-- (program_days for its whole days, program_hours for the hours around them), the partial hours at the span's ends from an events_kind_ts range on (kind = 4, ts) only where
-- that hour's program_hours maximum could raise it (value is in the index); gave_up from one (kind = 5,
-- ts) range from the earliest loop on; program_states for the loops' programs only.
-- Extra parameters (Reports.loops):
--   :loop_from, :loop_until  the whole hours read from the rollups (equal to :until when none)
--   :day_from, :day_until    of those, the whole days read from loop_days (migrations/0015_day_rollups.sql;
--                            both :loop_until when none)
--   :days                    1 when program_days is a real table: each loop's whole days of restart
--                            delays are read there
WITH
-- The raw edges as two ranges per program, [:since, :loop_from + :window_ms) and the rest of
-- [:loop_until - :window_ms, :until) (disjoint; the second is empty when no hour comes from the rollup).
-- Spelled as an OR of the two, SQLite walked the program's whole range in the index and filtered it.
edges AS MATERIALIZED (
    SELECT :since AS lo, min(:until, :loop_from + :window_ms) AS hi
    UNION ALL
    SELECT max(:since, :loop_until - :window_ms, min(:until, :loop_from + :window_ms)), :until
),
raw AS MATERIALIZED (
    SELECT crash_rows.program_id AS program_id,
           histctl_crash_loop(crash_rows.ended_at, crash_rows.worker_index, crash_rows.uptime_ms, :window_ms, :min_crashes,
                              crash_rows.ended_at < :loop_from OR crash_rows.ended_at >= :loop_until) AS loop
    FROM (
        SELECT p.id AS program_id, i.ended_at AS ended_at, i.worker_index AS worker_index, i.uptime_ms AS uptime_ms
        FROM programs p NOT INDEXED
        CROSS JOIN edges edge
        CROSS JOIN instances i INDEXED BY instances_crashes ON i.program_id = p.id
        WHERE i.class IN ('crash', 'limit') AND i.ended_at >= edge.lo AND i.ended_at < edge.hi
          AND NOT EXISTS (SELECT 1 FROM operator_effects f WHERE f.instance_id = i.id AND f.effect = 'ended')
          AND (json_array_length(:programs) = 0 OR p.name IN (SELECT value FROM json_each(:programs)))
        UNION ALL
        -- Starts that failed before exec (spawn_failed events) loop too; they never ran (no uptime).
        SELECT p.id, e.ts, json_extract(e.detail, '$.worker_index'), NULL
        FROM edges edge
        CROSS JOIN events e INDEXED BY events_kind_ts
        JOIN programs p ON p.id = e.program_id
        WHERE e.kind = 9 /* spawn_failed */ AND e.ts >= edge.lo AND e.ts < edge.hi
          AND (json_array_length(:programs) = 0 OR p.name IN (SELECT value FROM json_each(:programs)))
    ) crash_rows
    GROUP BY crash_rows.program_id
),
-- The rollup's hours per program and worker slot (one sort of the range's rows), then per program: the
-- whole days [:day_from, :day_until) from loop_days, the hours before and after them from loop_hours
-- (three primary-key ranges; an hour row lies wholly inside one day, so the sum is the same).
hour_slots AS MATERIALIZED (
    SELECT slot_rows.program_id AS program_id, slot_rows.worker AS worker, SUM(slot_rows.members) AS crashes, MIN(slot_rows.first_ms) AS first,
           MAX(slot_rows.last_ms) AS last, MAX(slot_rows.longest_uptime_ms) AS longest_uptime_ms
    FROM (
        SELECT h.program_id, h.worker, h.members, h.first_ms, h.last_ms, h.longest_uptime_ms
        FROM loop_hours h WHERE h.hour >= :loop_from AND h.hour < :day_from
        UNION ALL
        SELECT d.program_id, d.worker, d.members, d.first_ms, d.last_ms, d.longest_uptime_ms
        FROM loop_days d WHERE d.day >= :day_from AND d.day < :day_until
        UNION ALL
        SELECT h.program_id, h.worker, h.members, h.first_ms, h.last_ms, h.longest_uptime_ms
        FROM loop_hours h WHERE h.hour >= :day_until AND h.hour < :loop_until
    ) slot_rows
    GROUP BY slot_rows.program_id, slot_rows.worker
),
parts AS MATERIALIZED (
    SELECT program_id, json_extract(loop, '$.crashes') AS crashes, json_extract(loop, '$.first') AS first,
           json_extract(loop, '$.last') AS last, json_extract(loop, '$.longest_uptime_ms') AS longest_uptime_ms,
           '[' || coalesce(json_extract(loop, '$.workers'), '') || ']' AS workers
    FROM raw WHERE loop IS NOT NULL
    UNION ALL
    SELECT h.program_id, SUM(h.crashes), MIN(h.first), MAX(h.last), MAX(h.longest_uptime_ms),
           json_group_array(h.worker) FILTER (WHERE h.worker >= 0)
    FROM hour_slots h
    JOIN programs p ON p.id = h.program_id
    WHERE json_array_length(:programs) = 0 OR p.name IN (SELECT value FROM json_each(:programs))
    GROUP BY h.program_id
),
-- Each program's distinct worker slots over both sources, found once (a few rows: pools only); the
-- per-program list below scans these instead of parsing every part's list once per program.
worker_slots AS MATERIALIZED (
    SELECT DISTINCT y.program_id AS program_id, j.value AS w FROM parts y, json_each(y.workers) j
),
loops AS MATERIALIZED (
    SELECT x.program_id AS program_id, p.name AS program, SUM(x.crashes) AS crashes, MIN(x.first) AS first,
           MAX(x.last) AS last, MAX(x.longest_uptime_ms) AS longest_uptime_ms,
           (SELECT group_concat(w, ',') FROM (
               SELECT ws.w AS w FROM worker_slots ws WHERE ws.program_id = x.program_id ORDER BY 1)) AS workers
    FROM parts x
    JOIN programs p ON p.id = x.program_id
    GROUP BY x.program_id
),
-- The longest restart delay scheduled in each loop's span [first, last + 5 s]: the whole hours inside it
-- as a plain MAX over one program_hours primary-key range per loop; then the partial hours at its two
-- ends, read from events only where that hour's program_hours maximum is larger than the whole hours'
-- (else no event of it can raise the answer): usually none, where the events of every loop's edge hours
-- were read before (74 k on the 30-day fixture).
-- The whole hours [h1, h2) split into whole days [d1, d2) read from program_days (:days = 1: a real table;
-- only after 1970, where the day buckets are floors) and the hours before and after them; d1 = d2 = h2
-- when no whole day lies inside.
delay_spans AS MATERIALIZED (
    SELECT program_id, h1, h2,
           CASE WHEN :days AND h1 > 0 AND h1 + (86400000 - h1 % 86400000) % 86400000 < h2 - h2 % 86400000
                THEN h1 + (86400000 - h1 % 86400000) % 86400000 ELSE h2 END AS d1,
           CASE WHEN :days AND h1 > 0 AND h1 + (86400000 - h1 % 86400000) % 86400000 < h2 - h2 % 86400000
                THEN h2 - h2 % 86400000 ELSE h2 END AS d2
    FROM (SELECT l.program_id AS program_id, l.first - l.first % 3600000 + 3600000 AS h1,
                 (l.last + 5000) - (l.last + 5000) % 3600000 AS h2
          FROM loops l)
),
whole_delays AS MATERIALIZED (
    SELECT delay_rows.program_id AS program_id, MAX(delay_rows.delay) AS max_delay_ms
    FROM (
        SELECT s.program_id AS program_id, h.max_restart_delay_ms AS delay
        FROM delay_spans s JOIN program_hours h ON h.program_id = s.program_id AND h.hour >= s.h1 AND h.hour < s.d1
        UNION ALL
        SELECT s.program_id, d.max_restart_delay_ms
        FROM delay_spans s JOIN program_days d ON d.program_id = s.program_id AND d.day >= s.d1 AND d.day < s.d2
        UNION ALL
        SELECT s.program_id, h.max_restart_delay_ms
        FROM delay_spans s JOIN program_hours h ON h.program_id = s.program_id AND h.hour >= s.d2 AND h.hour < s.h2
    ) delay_rows
    GROUP BY delay_rows.program_id
),
-- Each loop's partial hours: the part of first's hour in the span, and of (last + 5 s)'s (the same range
-- twice when both are one hour, which MAX does not mind).
edge_spans AS MATERIALIZED (
    SELECT l.program_id AS program_id, l.first - l.first % 3600000 AS hour, l.first AS lo,
           min(l.last + 5000, l.first - l.first % 3600000 + 3599999) AS hi
    FROM loops l
    UNION ALL
    SELECT l.program_id, (l.last + 5000) - (l.last + 5000) % 3600000,
           max(l.first, (l.last + 5000) - (l.last + 5000) % 3600000), l.last + 5000
    FROM loops l
),
-- The edge spans whose hour could raise the answer; then their events, one events_kind_ts range per
-- distinct hour for all those spans together (a 1 h postmortem's loops all have the same one or two edge
-- hours: one range of ~5,600 restarts each, instead of one range of all programs' restarts per span).
needed_spans AS MATERIALIZED (
    SELECT s.program_id AS program_id, s.hour AS hour, s.lo AS lo, s.hi AS hi
    FROM edge_spans s
    JOIN program_hours h ON h.program_id = s.program_id AND h.hour = s.hour
    LEFT JOIN whole_delays wd ON wd.program_id = s.program_id
    WHERE wd.max_delay_ms IS NULL OR h.max_restart_delay_ms > wd.max_delay_ms
),
needed_hours AS MATERIALIZED (SELECT DISTINCT hour FROM needed_spans),
edge_delays AS MATERIALIZED (
    SELECT s.program_id AS program_id, MAX(r.value) AS max_delay_ms
    FROM needed_hours nh
    CROSS JOIN events r INDEXED BY events_kind_ts
    CROSS JOIN needed_spans s
    WHERE r.kind = 4 /* restart_scheduled */ AND r.ts >= nh.hour AND r.ts < nh.hour + 3600000
      AND s.hour = nh.hour AND s.program_id = r.program_id AND r.ts >= s.lo AND r.ts <= s.hi
    GROUP BY s.program_id
),
-- The newest give-up per program from the earliest loop on: one range, not one per loop.
gave AS MATERIALIZED (
    SELECT g.program_id AS program_id, MAX(g.ts) AS last_ts
    FROM events g INDEXED BY events_kind_ts
    WHERE g.kind = 5 /* gave_up */ AND g.ts >= (SELECT MIN(first) FROM loops) AND g.ts < :until
    GROUP BY g.program_id
)
SELECT
    l.program AS program,
    l.crashes AS crashes,
    l.first AS first,
    l.last AS last,
    round(l.longest_uptime_ms / 1000.0, 3) AS longest_uptime_s,
    CASE WHEN wd.max_delay_ms IS NULL THEN ed.max_delay_ms
         WHEN ed.max_delay_ms IS NULL THEN wd.max_delay_ms
         ELSE max(wd.max_delay_ms, ed.max_delay_ms) END / 1000.0 AS max_restart_delay_s,
    coalesce(g.last_ts >= l.first, 0) AS gave_up,
    -- Last known state: the program_states view (migrations/0002_views.sql), for this program only.
    (SELECT s.state FROM program_states s WHERE s.program_id = l.program_id) AS state,
    l.workers AS workers
FROM loops l
LEFT JOIN whole_delays wd ON wd.program_id = l.program_id
LEFT JOIN edge_delays ed ON ed.program_id = l.program_id
LEFT JOIN gave g ON g.program_id = l.program_id
ORDER BY l.crashes DESC, l.program;
