#!/usr/bin/env bash
# The main job on one machine: the relay with its embedded MQTT broker and SQLite history,
# serving the API (and dashboard) at http://127.0.0.1:8080. Ctrl-C stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
. scripts/env.sh
cargo build --release --locked -p baycount-relay
mkdir -p .demo
exec "$CARGO_TARGET_DIR/release/baycount-relay" --config relay/relay.example.toml --db .demo/baycount.db "$@"
