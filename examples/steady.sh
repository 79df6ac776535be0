#!/bin/sh
# steady: a healthy long-running program. Prints a heartbeat every 2 s and never exits on its own.
# It stops on SIGTERM like a well-behaved service (sh's default action for TERM is to exit).
n=0
while :; do
    n=$((n + 1))
    echo "steady: heartbeat $n (pid $$)"
    sleep 2
done
