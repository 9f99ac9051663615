#!/usr/bin/env bash
# The main job on one machine: the relay (embedded MQTT broker, SQLite history, API and
# dashboard at http://127.0.0.1:8080) and one edge, bay-1, counting the bundled sample footage
# on a loop with simulated lamps and button. Ctrl-C stops both.
#
#   ./scripts/demo.sh           run until Ctrl-C
#   ./scripts/demo.sh --check   run, start a session through the API, wait for counts, stop it,
#                               check it is in the history, and exit (used by the test command)
set -euo pipefail
cd "$(dirname "$0")/.."
check=false
[[ "${1:-}" == "--check" ]] && check=true
./scripts/setup.sh
. scripts/env.sh
if $check; then
    # The check needs no release build; within the test command the debug binaries are built.
    [ "${BAYCOUNT_BUILT:-}" = debug ] || cargo build --locked -p baycount-relay -p baycount-edge
    bin="$CARGO_TARGET_DIR/debug"
else
    cargo build --release --locked -p baycount-relay -p baycount-edge
    bin="$CARGO_TARGET_DIR/release"
fi
mkdir -p .demo
http=127.0.0.1:8080
mqtt=127.0.0.1:1883
if $check; then
    # Ports the relay chooses (0) and a fresh history, so a check never meets a running demo.
    http=127.0.0.1:0
    mqtt=127.0.0.1:0
    rm -rf .demo/check && mkdir -p .demo/check
    dir=.demo/check
else
    dir=.demo
fi

pids=()
cleanup() {
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"$bin/baycount-relay" --config relay/relay.example.toml --http "$http" --mqtt-listen "$mqtt" \
    --db "$dir/baycount.db" >"$dir/relay.out" &
pids+=($!)
read -r http mqtt < <(scripts/relay-addresses.sh "$dir/relay.out" "${pids[0]}")
for _ in $(seq 100); do
    curl -fsS "http://$http/healthz" >/dev/null 2>&1 && break
    sleep 0.1
done
"$bin/baycount-edge" run --bay bay-1 --mqtt "mqtt://$mqtt" --gpio sim \
    --source file:assets/footage/vtest.avi --loop --line 0.5,0.9,0.5,0.15 \
    --journal "$dir/edge-bay-1.db" --socket "$dir/edge-bay-1.sock" &
pids+=($!)

if ! $check; then
    cat <<EOF

baycount demo: dashboard at http://$http, edge bay-1 counting people in assets/footage/vtest.avi.
  start loading:  curl -X POST http://$http/api/bays/bay-1/start -H 'content-type: application/json' -d '{"plate":"KT 1234 AB"}'
  live state:     curl http://$http/api/state
  stop loading:   curl -X POST http://$http/api/bays/bay-1/stop
  history:        curl http://$http/api/sessions
  the bay button: $bin/baycount-edge press --bay bay-1 --socket $dir/edge-bay-1.sock
Ctrl-C stops both.

EOF
    wait -n
    exit 0
fi

state() { curl -fsS "http://$http/api/state"; }
field() { python3 -c "import json,sys; b=[b for b in json.load(sys.stdin)['bays'] if b['bay']=='bay-1']; print(b[0]$1 if b else '')"; }
for _ in $(seq 300); do
    [[ "$(state | field "['online']")" == "True" ]] && break
    sleep 0.1
done
curl -fsS -X POST "http://$http/api/bays/bay-1/start" -H 'content-type: application/json' \
    -d '{"plate":"DEMO 1"}' >/dev/null
count=0
for _ in $(seq 900); do
    count=$(state | field "['count']")
    [[ "$count" -ge 2 ]] && break
    sleep 0.1
done
[[ "$count" -ge 2 ]] || { echo "demo check: no counts within 90 s" >&2; exit 1; }
stopped=$(curl -fsS -X POST "http://$http/api/bays/bay-1/stop" | python3 -c 'import json,sys; print(json.load(sys.stdin)["session"]["count"])')
for _ in $(seq 100); do
    history=$(curl -fsS "http://$http/api/sessions" | python3 -c 'import json,sys; s=json.load(sys.stdin)["sessions"]; print(s[0]["count"] if s and s[0]["stopped_at"] else "")')
    [[ -n "$history" ]] && break
    sleep 0.1
done
[[ "$history" == "$stopped" ]] || { echo "demo check: history has '$history', the stop said $stopped" >&2; exit 1; }
echo "demo check: bay-1 counted $stopped people on the sample footage; the history agrees"
