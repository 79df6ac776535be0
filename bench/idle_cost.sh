#!/bin/bash
# bench/idle_cost.sh BINARY SECONDS: an idle histd with 500 programs (/bin/sleep 3600), 1 s snapshots, 10 s scans.
# Prints the CPU of each named thread and the total over SECONDS (utime+stime ticks, 10 ms each), and the PSS
# from /proc/PID/smaps_rollup, measured 10 s after all 500 run. Stops histd by pid afterwards. (BENCHMARKS.md)
# histd releases its start-up code pages 30 s after its services start (StartupCodeRelease): use SECONDS >= 25
# to measure the steady state.
BIN=$1; S=$2; D=$(mktemp -d /tmp/idle-cost.XXXX)
{ echo '[supervisor]'; echo "db = \"$D/h.db\""; echo "log_dir = \"$D/logs\""; echo 'snapshot_interval = "1s"'; echo 'scan_interval = "10s"'
  for i in $(seq 1 500); do echo "[program.p$i]"; echo 'command = ["/bin/sleep", "3600"]'; done; } > $D/h.toml
$BIN run --config $D/h.toml > $D/out.log 2>&1 & P=$!
until [ "$(cat /proc/$P/task/*/children 2>/dev/null | wc -w)" -ge 500 ]; do sleep 0.1; done; sleep 10
declare -A A; for t in /proc/$P/task/*; do A[$(basename $t)]=$(awk '{print $14+$15}' $t/stat); done
a=$(awk '{print $14+$15}' /proc/$P/stat); sleep $S; b=$(awk '{print $14+$15}' /proc/$P/stat)
for t in /proc/$P/task/*; do id=$(basename $t); n=$(cat $t/comm); v=$(awk '{print $14+$15}' $t/stat); d=$((v-${A[$id]:-0})); [ $d -gt 0 ] && echo "  $n: $d ticks"; done
echo "total cpu% = $(echo "($b-$a)/$S" | bc -l | cut -c1-6)  load $(cut -d' ' -f1 /proc/loadavg)"
grep -E "^Pss:" /proc/$P/smaps_rollup
kill -TERM $P; wait $P; rm -rf $D
