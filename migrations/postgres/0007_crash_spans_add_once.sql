-- 0007_crash_spans_add_once: crash_spans_add (0005) groups a statement's crashes once, by 10-minute span,
-- and makes the hours and 6 hours from those groups. Applied by histd-ship or `histctl fleet migrate`.
-- Never edit once landed.
--
-- Why: 0005's version crossed every new crash with the three span lengths and grouped the result, so a
-- batch of 17,000 crashes became 51,000 rows to sort by their text keys (array_agg DISTINCT ... ORDER BY
-- needs sorted input), 0.70 s of a 300,000-event shipment's 6.97 s (BENCHMARKS.md). A 10-minute span
-- lies in exactly one hour and one 6-hour span (both are multiples of 10 minutes from the epoch), so the
-- longer spans are sums of the 10-minute groups, with their arrays merged as crash_spans_roll_up merges
-- them. Same rows, same arithmetic; the table's definition is unchanged.
CREATE OR REPLACE FUNCTION crash_spans_add(hosts text[], epochs text[], programs bigint[], ends bigint[], classes text[],
                                           codes bigint[], sigs bigint[]) RETURNS void
LANGUAGE sql AS $$
    WITH ten AS (
        SELECT crash_spans_floor(n.ended_at, 600000) AS start_ms, n.host_id, n.db_epoch, n.program_id, count(*) AS crashes,
               count(*) FILTER (WHERE n.class = 'limit') AS limit_kills, min(n.ended_at) AS first_ms, max(n.ended_at) AS last_ms,
               coalesce(array_agg(DISTINCT n.exit_code ORDER BY n.exit_code) FILTER (WHERE n.exit_code >= 0), '{}') AS exit_codes,
               coalesce(array_agg(DISTINCT n.signal ORDER BY n.signal) FILTER (WHERE n.signal IS NOT NULL AND n.signal <> 0), '{}') AS signals
        FROM unnest(hosts, epochs, programs, ends, classes, codes, sigs) AS n(host_id, db_epoch, program_id, ended_at, class, exit_code, signal)
        GROUP BY 1, 2, 3, 4
    ),
    spans AS (
        SELECT 600000::bigint AS span_ms, start_ms, host_id, db_epoch, program_id, crashes, limit_kills, first_ms, last_ms,
               exit_codes, signals
        FROM ten
        UNION ALL
        SELECT s.span_ms, crash_spans_floor(t.start_ms, s.span_ms), t.host_id, t.db_epoch, t.program_id, sum(t.crashes),
               sum(t.limit_kills), min(t.first_ms), max(t.last_ms),
               (SELECT coalesce(array_agg(DISTINCT v ORDER BY v), '{}') FROM unnest(crash_spans_cat(t.exit_codes)) v),
               (SELECT coalesce(array_agg(DISTINCT v ORDER BY v), '{}') FROM unnest(crash_spans_cat(t.signals)) v)
        FROM ten t CROSS JOIN (VALUES (3600000::bigint), (21600000)) AS s(span_ms)
        GROUP BY 1, 2, 3, 4, 5
    )
    INSERT INTO crash_spans AS c (span_ms, start_ms, host_id, db_epoch, program_id, crashes, limit_kills, first_ms, last_ms,
                                  exit_codes, signals)
    SELECT span_ms, start_ms, host_id, db_epoch, program_id, crashes, limit_kills, first_ms, last_ms, exit_codes, signals
    FROM spans
    ON CONFLICT (span_ms, start_ms, host_id, db_epoch, program_id) DO UPDATE
       SET crashes = c.crashes + EXCLUDED.crashes, limit_kills = c.limit_kills + EXCLUDED.limit_kills,
           first_ms = least(c.first_ms, EXCLUDED.first_ms), last_ms = greatest(c.last_ms, EXCLUDED.last_ms),
           exit_codes = crash_spans_union(c.exit_codes, EXCLUDED.exit_codes),
           signals = crash_spans_union(c.signals, EXCLUDED.signals);
$$;
