#!/usr/bin/env bash
# The whole test suite: setup, formatting, lints, the aarch64 cross-build, then every unit,
# integration and end-to-end test, the tflite fallback runtime, and the demo (README's first
# command) checked unattended.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
export BAYCOUNT_SETUP_DONE=1
. scripts/env.sh
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
# The edge for aarch64 with LiteRT, smoke-run under qemu.
./scripts/cross-check.sh
# Benchmarks are built by clippy above and run with `cargo bench`; the load bench also runs here
# in a short debug version, for its checks that nothing is lost (its figures mean little in debug).
log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
cargo test --workspace --locked --no-fail-fast --lib --bins --tests 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
# The fallback runtime for targets LiteRT has no build for: TensorFlow Lite 1.15 from source
# (about 5 minutes the first time), checked against LiteRT on the footage.
cargo test -p baycount-edge --features tflite --locked --test model tflite 2>&1 | tee -a "$log"
status=$(( status | PIPESTATUS[0] ))
set -e
if BAYS=20 RATE=5 SECONDS=5 FLOOD=20 WS_CLIENTS=10 cargo test -p baycount-relay --locked --bench load; then
    echo "test result: ok. 1 passed; 0 failed (load check)" >> "$log"
else
    echo "test result: FAILED. 0 passed; 1 failed (load check)" >> "$log"
    status=1
fi
# The REST API against its own OpenAPI document (schemathesis).
if ./scripts/api-check.sh; then
    echo "test result: ok. 1 passed; 0 failed (API schema check)" >> "$log"
else
    echo "test result: FAILED. 0 passed; 1 failed (API schema check)" >> "$log"
    status=1
fi
# Deployment: systemd units verified, Cross.toml, the Debian packages built, checked, installed.
if ./scripts/check-packages.sh; then
    echo "test result: ok. 1 passed; 0 failed (packages check)" >> "$log"
else
    echo "test result: FAILED. 0 passed; 1 failed (packages check)" >> "$log"
    status=1
fi
# The first README command, unattended: relay + edge on the sample footage, a session through
# the API, its count in the history.
if ./scripts/demo.sh --check; then
    echo "test result: ok. 1 passed; 0 failed (demo check)" >> "$log"
else
    echo "test result: FAILED. 0 passed; 1 failed (demo check)" >> "$log"
    status=1
fi
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     END { printf "tests: %d passed, %d failed\n", p, f }' "$log"
exit "$status"
