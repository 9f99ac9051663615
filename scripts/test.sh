#!/usr/bin/env bash
# The whole test suite: setup, formatting, lints, the cross-builds, then every unit, integration
# and end-to-end test (cargo-nextest: each test in its own process with a time limit), the
# tflite fallback runtime, the load, API, packages and demo checks. It cannot hang: every step
# runs in its own session under a time limit, its output goes to a file (no pipe a leftover
# process could hold open), and a step that leaves a process running fails and the process is
# killed. At the end it fails if any relay, edge, broker, ffmpeg or browser it started (even in
# a session of its own) is still running.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
export BAYCOUNT_SETUP_DONE=1
. scripts/env.sh

logs=$(mktemp -d)
log="$logs/test.log"
: >"$log"
current=""
status=0
trap 'if [ -n "$current" ]; then pkill -KILL -s "$current" 2>/dev/null || true; fi; rm -rf "$logs"' EXIT
trap 'exit 130' INT TERM

# The processes the suite starts (by name, as the kernel keeps it: 15 characters); those already
# running (a developer's demo) are not ours.
watched() {
    ps -eo pid=,stat=,comm= | awk '$2 !~ /^Z/ && $3 ~ /^(baycount-relay|baycount-edge|mosquitto|chromedriver|chromium|chrome_crashpad|ffmpeg)$/ { print $1 }' | sort
}
before=$(watched)

# step SECONDS NAME COMMAND...: runs COMMAND in a session of its own for at most SECONDS, its
# output shown as it comes and kept in $logs/NAME.out; then kills whatever it left behind.
step() {
    local limit=$1 name=$2
    shift 2
    local out="$logs/$name.out" rc=0 began=$SECONDS
    : >"$out" # before tail opens it: the step's own redirection may come later
    setsid timeout --kill-after=30 "$limit" "$@" >"$out" 2>&1 </dev/null &
    current=$!
    tail -n +1 -f --pid="$current" "$out" &
    local tailer=$!
    wait "$current" || rc=$?
    wait "$tailer" 2>/dev/null || true
    if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
        echo "test.sh: $name did not finish within $limit s and was stopped" | tee -a "$log"
    fi
    # Whatever is left in its session outlived the step: a process a test did not end.
    local left
    left=$(ps -eo pid=,sid=,stat=,args= | awk -v s="$current" '$2 == s && $3 !~ /^Z/')
    if [ -n "$left" ]; then
        printf 'test.sh: %s left processes running (killed now):\n%s\n' "$name" "$left" | tee -a "$log"
        pkill -KILL -s "$current" 2>/dev/null || true
        [ "$rc" -ne 0 ] || rc=1
    fi
    current=""
    echo "test.sh: $name: $((SECONDS - began)) s (exit $rc)" | tee -a "$logs/times"
    return "$rc"
}

# check NAME SECONDS COMMAND...: a step that counts as one test in the summary.
check() {
    local name=$1 limit=$2
    shift 2
    if step "$limit" "$name" "$@"; then
        echo "test result: ok. 1 passed; 0 failed ($name)" >>"$log"
    else
        echo "test result: FAILED. 0 passed; 1 failed ($name)" | tee -a "$log"
        status=1
    fi
}

step 300 fmt cargo fmt --all -- --check
step 2400 clippy cargo clippy --workspace --all-targets --locked -- -D warnings
# The edge for aarch64 (LiteRT) and armv7 (tflite), the relay for aarch64, smoke-run under qemu.
step 2400 cross ./scripts/cross-check.sh
# Every test binary built first, so the run's time limits measure tests, not compiling.
step 2400 build cargo nextest run --workspace --locked --lib --bins --tests --no-run
step 2400 tests cargo nextest run --workspace --locked --lib --bins --tests --no-fail-fast || status=1
# Only nextest's summary: the tests' own output (shown above) holds libtest's lines too.
grep -E '^ *Summary \[' "$logs/tests.out" >>"$log" || true
# The fallback runtime for targets LiteRT has no build for: TensorFlow Lite 1.15 from source
# (about 5 minutes the first time), checked against LiteRT on the footage.
step 1800 tflite cargo nextest run -p baycount-edge --features tflite --locked --test model tflite || status=1
grep -E '^ *Summary \[' "$logs/tflite.out" >>"$log" || true
# The load bench in a short debug run, for its checks that nothing is lost (its figures mean
# little in debug).
check "load check" 900 env BAYS=20 RATE=5 SECONDS=5 FLOOD=20 WS_CLIENTS=10 \
    cargo test -p baycount-relay --locked --bench load
# The REST API against its own OpenAPI document (schemathesis).
check "API schema check" 900 ./scripts/api-check.sh
# Deployment: systemd units verified, Cross.toml, the Debian packages built, checked, installed.
check "packages check" 1800 ./scripts/check-packages.sh
# The first README command, unattended: relay + edge on the sample footage, a session through
# the API, its count in the history.
check "demo check" 900 ./scripts/demo.sh --check

# Nothing the suite started may outlive it.
after=$(watched)
left=$(comm -13 <(echo "$before") <(echo "$after") | grep . || true)
if [ -n "$left" ]; then
    echo "test.sh: processes the tests started are still running:" | tee -a "$log"
    ps -o pid,etime,args -p "$(echo "$left" | paste -sd,)" | tee -a "$log" || true
    echo "$left" | xargs -r kill -KILL 2>/dev/null || true
    echo "test result: FAILED. 0 passed; 1 failed (no process left behind)" | tee -a "$log"
    status=1
else
    echo "test result: ok. 1 passed; 0 failed (no process left behind)" >>"$log"
fi

echo "test.sh: step times:" && cat "$logs/times"
# One closing line: nextest's summaries and the checks above, added up.
awk '
    /^test result:/ { for (i = 1; i < NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
    /tests run:/ {
        if (match($0, /[0-9]+ passed/)) p += substr($0, RSTART, RLENGTH) + 0
        s = $0; while (match(s, /[0-9]+ (failed|timed out)/)) { f += substr(s, RSTART, RLENGTH) + 0; s = substr(s, RSTART + RLENGTH) }
    }
    END { printf "tests: %d passed, %d failed\n", p, f }' "$log"
exit "$status"
