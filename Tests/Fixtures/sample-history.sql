-- The known-content history for histctl's report tests (HistReportsTests) and golden tests
-- (EndToEndTests): rows in plain SQL that follow the real writer's conventions (docs/SCHEMA.md).
-- All times are around T = 2026-11-21T10:00:00Z (1795255200000 ms). One file serves both test targets.
INSERT INTO runs (id, host, pid, version, started_at, stopped_at, stop_reason) VALUES
  (1, 'host-a', 4242, '0.1.0', 1795255200000 - 3600000, 1795255200000 - 1800000, 'unclean'),
  (2, 'host-a', 4343, '0.1.0', 1795255200000 - 900000, NULL, NULL);
INSERT INTO programs (id, name, kind) VALUES
  (1, 'web', 'program'), (2, 'workers', 'pool'),
  (3, 'evil''; DROP TABLE events; -- "q" 🚀', 'program');
INSERT INTO instances (id, run_id, program_id, worker_index, pid, start_ticks, started_at, ended_at, exit_code, signal, core_dumped, class, uptime_ms, stderr_tail) VALUES
  (1, 1, 1, NULL, 100, 5000, 1795255200000 - 3599000, 1795255200000 - 1800000, 2, NULL, 0, 'crash', 1799000, 'boom "quoted"' || char(10) || 'line2'),
  (2, 2, 1, NULL, 100, 9000, 1795255200000 - 899000, 1795255200123, NULL, 11, 1, 'crash', 899123, 'segfault'),
  (3, 2, 1, NULL, 101, 9100, 1795255201123, 1795255260000, 1, NULL, 0, 'crash', 58877, NULL),
  (4, 2, 1, NULL, 102, 9200, 1795255262000, 1795255320000, NULL, 9, 0, 'limit', 58000, NULL),
  (5, 2, 1, NULL, 103, 9300, 1795255324000, NULL, NULL, NULL, 0, NULL, NULL, NULL),
  (6, 2, 2, 0, 200, 9010, 1795255200000 - 898000, NULL, NULL, NULL, 0, NULL, NULL, NULL),
  (7, 2, 2, 1, 201, 9011, 1795255200000 - 898000, 1795255800000, 0, NULL, 0, 'clean', 1498000, NULL),
  (8, 2, 3, NULL, 300, 9020, 1795255200000 - 897000, 1795255500000, 3, NULL, 0, 'crash', 1197000,
      '''; DROP TABLE events; --' || char(10) || '💥 "quoted", comma');
INSERT INTO events (ts, kind, run_id, program_id, instance_id, value, detail) VALUES
  (1795255200000 - 3600000, 13, 1, NULL, NULL, 4242, '{"version":"0.1.0","host":"host-a"}'),
  (1795255200000 - 3599000, 1, 1, 1, 1, NULL, NULL),
  (1795255200000 - 1800000, 3, 1, 1, 1, 1799000, NULL),
  (1795255200000 - 1800000, 14, 1, NULL, NULL, NULL, '{"reason":"unclean","detected_ms":1795254300000}'),
  (1795255200000 - 900000, 13, 2, NULL, NULL, 4343, '{"version":"0.1.0","host":"host-a"}'),
  (1795255200000 - 899000, 1, 2, 1, 2, NULL, NULL),
  (1795255200000 - 898000, 1, 2, 2, 6, NULL, NULL),
  (1795255200000 - 898000, 1, 2, 2, 7, NULL, NULL),
  (1795255200000 - 897000, 1, 2, 3, 8, NULL, NULL),
  (1795255200123, 3, 2, 1, 2, 899123, NULL),
  (1795255200123, 4, 2, 1, 2, 1000, '{"attempt":1}'),
  (1795255201123, 1, 2, 1, 3, NULL, NULL),
  (1795255260000, 3, 2, 1, 3, 58877, NULL),
  (1795255260000, 4, 2, 1, 3, 2000, '{"attempt":2}'),
  (1795255262000, 1, 2, 1, 4, NULL, NULL),
  (1795255319500, 8, 2, 1, 4, 629145600, '{"limit":"max_memory_mb","threshold":536870912,"action":"stop"}'),
  (1795255319600, 6, 2, 1, 4, 15, '{"reason":"limit"}'),
  (1795255320000, 2, 2, 1, 4, 58000, NULL),
  (1795255320000, 4, 2, 1, 4, 4000, '{"attempt":3}'),
  (1795255324000, 1, 2, 1, 5, NULL, NULL),
  (1795255500000, 3, 2, 3, 8, 1197000, NULL),
  (1795255500000, 5, 2, 3, 8, 0, NULL),
  (1795255800000, 12, 2, 2, 7, NULL, '{"reason":"exit0"}'),
  (1795256100000, 15, 2, NULL, NULL, 17,
   '{"from_ms":1795256100000,"to_ms":1795256399000,"reason":"queue_full","dropped_by_kind":{"start":10,"sweep":7},"recorded_ms":1795256400000}');
INSERT INTO sweeps (id, ts) VALUES (1, 1795255230000), (2, 1795255240000), (3, 1795255250000);
INSERT INTO snapshots (sweep_id, instance_id, state, utime, stime, rss_kb, vsz_kb, threads, fds, procs) VALUES
  (1, 3, 'R', 100, 0, 20000, 90000, 4, 10, 1),
  (1, 6, 'S', 50, 50, 80000, 120000, 2, 8, 1),
  (2, 3, 'R', 600, 100, 30000, 90000, 4, 10, 1),
  (2, 6, 'S', 250, 50, 80000, 120000, 2, 8, 1),
  (3, 3, 'R', 700, 100, 40000, 90000, 5, 11, 2),
  (3, 6, 'S', 250, 50, 80000, 120000, 2, 8, 1);
INSERT INTO scans (ts, run_id, total, running, sleeping, disk_sleep, zombie, stopped, other, total_rss_kb) VALUES
  (1795255235000, 2, 120, 3, 110, 1, 2, 0, 4, 5000000),
  (1795255800000, 2, 121, 2, 112, 0, 3, 0, 4, 5100000);
INSERT INTO zombie_parents (parent_pid, parent_start_ticks, parent_name, parent_cmdline, max_zombies, last_zombies, first_seen, last_seen, scans) VALUES
  (500, 7000, 'bad-reaper', '/usr/bin/bad-reaper --x', 3, 3, 1795255235000, 1795255800000, 2),
  (500, 9500, 'other', 'other', 1, 1, 1795256400000, 1795256460000, 2);
INSERT INTO orphans (pid, start_ticks, name, cmdline, user, started_at, program_id, reason, first_seen, last_seen, scans) VALUES
  (600, 3000, 'stray', 'stray --loop', 'nobody', 1795255200000 - 10800000, 1, 'adopted_by_histd', 1795255235000, 1795255800000, 2),
  (601, 9600, 'young', 'young', 'root', 1795255200000, NULL, 'reparented_to_init', 1795255235000, 1795255235000, 1);
