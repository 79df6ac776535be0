#!/bin/sh
# stubborn: ignores SIGTERM, so histd has to SIGKILL it once stop_timeout runs out.
trap 'echo "stubborn: got SIGTERM, ignoring it"' TERM
echo "stubborn: started (pid $$); try stopping me"
while :; do
    # sleep in the background and wait, so the trap runs as soon as TERM arrives.
    sleep 1 &
    wait $!
done
