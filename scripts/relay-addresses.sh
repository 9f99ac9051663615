#!/usr/bin/env bash
# Prints the HTTP and MQTT addresses a relay started with port 0 got ("http mqtt"), read from
# the line it prints on stdout once it listens; fails if its process ends or 60 s pass first.
#
#   baycount-relay --http 127.0.0.1:0 --mqtt-listen 127.0.0.1:0 ... >relay.log 2>&1 &
#   read -r http mqtt < <(scripts/relay-addresses.sh relay.log $!)
set -euo pipefail
out=$1 pid=$2
for _ in $(seq 600); do
    line=$(grep -m1 '^baycount-relay listening ' "$out" 2>/dev/null || true)
    if [[ -n "$line" ]]; then
        http=$(grep -o 'http=[^ ]*' <<<"$line" | cut -d= -f2)
        mqtt=$(grep -o 'mqtt=[^ ]*' <<<"$line" | cut -d= -f2 || true)
        echo "$http ${mqtt:--}"
        exit 0
    fi
    kill -0 "$pid" 2>/dev/null || { echo "relay-addresses: the relay exited:" >&2; cat "$out" >&2; exit 1; }
    sleep 0.1
done
echo "relay-addresses: the relay did not say where it listens within 60 s:" >&2
cat "$out" >&2
exit 1
