#!/usr/bin/env python3
"""histctl wall time of the histbench query reports, two (or more) builds alternated run by run.

    python3 bench/histctl_ab.py DIR_A,DIR_B RUNS [FIXTURE.db] [case,case,...]

Each DIR holds a histctl binary (e.g. copies of two release builds); DIR@FILE runs that one on its own copy
of the fixture (one migrated by a newer histd, the other not). FIXTURE defaults to the cached
30-day fixture in /tmp/hb-q (`histbench size --scratch /tmp/hb-q` makes it). The relative times are
pinned to the fixture's end (FIXTURE.end), as histbench query pins them. Every run is checked to exit 0.
Prints the median, min and max per build, and the load average before and after (BENCHMARKS.md).
"""
import glob, os, statistics as st, subprocess, sys, time
from datetime import datetime, timezone

specs = [d.split('@', 1) for d in sys.argv[1].split(',')]
dirs = [s[0] for s in specs]
runs = int(sys.argv[2])
db = sys.argv[3] if len(sys.argv) > 3 and sys.argv[3] else sorted(glob.glob('/tmp/hb-q/full-g*.db'))[-1]
# histbench writes the fixture's end time (ms) beside it, last, once the file is complete.
end_ms = int(open(db + '.end').read().strip())
iso = lambda ms: datetime.fromtimestamp(ms / 1000, timezone.utc).strftime('%Y-%m-%dT%H:%M:%S.%f')[:-3] + 'Z'
E, day, hour = iso(end_ms), 86_400_000, 3_600_000
pin = ['--until', E, '--now', E]
cases = {
    'version': ['--version'],
    'status': ['status', '--format', 'table'] + pin,
    'loops': ['loops', '--since', '30d', '--format', 'table'] + pin,
    'crashes-csv': ['crashes', '--since', '1d', '--format', 'csv'] + pin,
    'crashes-table': ['crashes', '--since', '1d', '--format', 'table'] + pin,
    'summary': ['crashes', '--summary', '--since', '1d', '--format', 'table'] + pin,
    'breaches': ['breaches', '--since', '1d', '--format', 'table'] + pin,
    'zombies': ['zombies', '--since', '1d', '--format', 'table'] + pin,
    'postmortem': ['postmortem', '--since', iso(end_ms - day - hour), '--until', iso(end_ms - day)],
    'postmortem-html': ['postmortem', '--since', iso(end_ms - day - hour), '--until', iso(end_ms - day), '--format', 'html'],
}
only = sys.argv[4].split(',') if len(sys.argv) > 4 else list(cases)
print('fixture', db, 'end', E, '; load', ' '.join(open('/proc/loadavg').read().split()[:3]))
for name in only:
    times = {d: [] for d in dirs}
    for i in range(runs):
        for d in (dirs if i % 2 == 0 else dirs[::-1]):
            own = next((s[1] for s in specs if s[0] == d and len(s) > 1), db)
            argv = [os.path.join(d, 'histctl')] + cases[name] + ([] if name == 'version' else ['--db', own])
            t = time.perf_counter()
            rc = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
            times[d].append((time.perf_counter() - t) * 1000)
            if rc != 0:
                sys.exit(f'{argv} exited {rc}')
    print(f'{name:16s}', '  '.join(f'{d}: median {st.median(v):6.1f} (min {min(v):6.1f}, max {max(v):6.1f}) ms'
                                   for d, v in times.items()))
print('load', ' '.join(open('/proc/loadavg').read().split()[:3]))
