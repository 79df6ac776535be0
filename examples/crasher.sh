#!/bin/sh
# crasher: runs for a moment, complains on stderr, and exits with status 3, over and over.
# histd records each exit as a crash with exit code 3 and keeps the stderr tail with it.
echo "crasher: connecting to db (pid $$)"
sleep 1
echo "crasher: lost connection to db" >&2
exit 3
