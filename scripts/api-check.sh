#!/usr/bin/env bash
# The REST API checked against its own OpenAPI document by schemathesis (property-based:
# generated requests, valid and not, for every operation): a relay with both tokens and a
# synthetic edge on free loopback ports; schemathesis sends the operators' token. /api/ws is
# left out (a WebSocket upgrade, which schemathesis does not speak; relay/tests/api.rs covers it).
#
#   ./scripts/api-check.sh            the short run the test command makes
#   EXAMPLES=500 ./scripts/api-check.sh   a longer one
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
st="${XDG_CACHE_HOME:-$HOME/.cache}/baycount/schemathesis-venv/bin/schemathesis"
[ -x "$st" ] || ./scripts/setup.sh
# Within the test command the debug binaries are built already.
[ "${BAYCOUNT_BUILT:-}" = debug ] || cargo build --locked -q -p baycount-relay -p baycount-edge
bin="$CARGO_TARGET_DIR/debug"
dir=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$dir"
}
trap cleanup EXIT
export BAYCOUNT_API_TOKEN=schemathesis-operator BAYCOUNT_VIEWER_TOKEN=schemathesis-viewer
RUST_LOG=error "$bin/baycount-relay" --http 127.0.0.1:0 --mqtt-listen 127.0.0.1:0 --db "$dir/h.db" \
    >"$dir/relay.log" 2>&1 &
pids+=($!)
read -r http mqtt < <(scripts/relay-addresses.sh "$dir/relay.log" "${pids[0]}")
for _ in $(seq 100); do
    curl -fsS "http://$http/healthz" >/dev/null 2>&1 && break
    sleep 0.1
done
RUST_LOG=error "$bin/baycount-edge" run --bay bay-1 --mqtt "mqtt://$mqtt" --source synthetic \
    --gpio sim --journal "$dir/journal.db" --socket "$dir/edge.sock" &
pids+=($!)
"$st" run "http://$http/api/openapi.json" \
    --header "Authorization: Bearer $BAYCOUNT_API_TOKEN" \
    --checks all \
    --exclude-path /api/ws \
    --max-examples "${EXAMPLES:-25}" \
    --seed 1 \
    --no-color
