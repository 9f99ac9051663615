#!/usr/bin/env bash
# The whole test suite: setup, formatting, lints, the cross-builds (in the background), every
# unit, integration and end-to-end test (cargo-nextest: each test in its own process with a
# time limit), the load, API, demo and packages checks. It cannot hang: every step
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
trap 'for p in "$current" "${pid_of[cross]:-}"; do [ -z "$p" ] || pkill -KILL -s "$p" 2>/dev/null || true; done; rm -rf "$logs"' EXIT
trap 'exit 130' INT TERM

# The processes the suite starts (by name, as the kernel keeps it: 15 characters); those already
# running (a developer's demo) are not ours.
watched() {
    ps -eo pid=,stat=,comm= | awk '$2 !~ /^Z/ && $3 ~ /^(baycount-relay|baycount-edge|mosquitto|chromedriver|chromium|chrome_crashpad|ffmpeg)$/ { print $1 }' | sort
}
before=$(watched)

# start SECONDS NAME COMMAND...: starts COMMAND in a session of its own, for at most SECONDS,
# its output kept in $logs/NAME.out; `finish NAME` waits for it, then kills whatever it left.
declare -A pid_of began_at limit_of
start() {
    local limit=$1 name=$2
    shift 2
    : >"$logs/$name.out"
    setsid timeout --kill-after=30 "$limit" "$@" >"$logs/$name.out" 2>&1 </dev/null &
    pid_of[$name]=$!
    began_at[$name]=$SECONDS
    limit_of[$name]=$limit
}
finish() {
    local name=$1 rc=0
    local pid=${pid_of[$name]}
    wait "$pid" || rc=$?
    if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
        echo "test.sh: $name did not finish within ${limit_of[$name]} s and was stopped" | tee -a "$log"
    fi
    # Whatever is left in its session outlived the step: a process a test did not end.
    local left
    left=$(ps -eo pid=,sid=,stat=,args= | awk -v s="$pid" '$2 == s && $3 !~ /^Z/')
    if [ -n "$left" ]; then
        printf 'test.sh: %s left processes running (killed now):\n%s\n' "$name" "$left" | tee -a "$log"
        pkill -KILL -s "$pid" 2>/dev/null || true
        [ "$rc" -ne 0 ] || rc=1
    fi
    echo "test.sh: $name: $((SECONDS - ${began_at[$name]})) s (exit $rc)" | tee -a "$logs/times"
    return "$rc"
}

# step SECONDS NAME COMMAND...: runs COMMAND as above, its output shown as it comes.
step() {
    start "$@"
    local name=$2
    current=${pid_of[$name]}
    tail -n +1 -f --pid="$current" "$logs/$name.out" &
    local tailer=$! rc=0
    finish "$name" || rc=$?
    wait "$tailer" 2>/dev/null || true
    current=""
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

# Built once for everything below: the edge with both runtimes (LiteRT, and the TensorFlow Lite
# 1.15 fallback for targets LiteRT has no build for, compiled from source once), so the
# fallback's tests run with the others and the scripts reuse these binaries.
features=(--features baycount-edge/tflite)
export BAYCOUNT_CROSS_PROFILE=smoke
# The edge for aarch64 (LiteRT) and armv7 (tflite), the relay for aarch64, smoke-run under qemu:
# in the background at low priority, on what the builds and tests leave of the cores.
# (Its own session is its own scheduling group, which `nice` alone does not lower: the group's
# nice value is set too, where the kernel groups by session.) From nothing (a fresh machine's
# first run) beside a process busy on one core it took 2312 s of its limit's 2400: an hour.
start 3600 cross sh -c 'echo 10 >/proc/self/autogroup 2>/dev/null; exec nice -n 10 "$@"' cross \
    ./scripts/cross-check.sh --profile "$BAYCOUNT_CROSS_PROFILE"
step 300 fmt cargo fmt --all -- --check
# Clippy lints the workspace's crates while the test build compiles them (clippy-driver as their
# compiler, warnings as errors: `cargo clippy --all-targets -- -D warnings`), so the
# dependencies are compiled once rather than checked and then built. TensorFlow Lite's own C++
# at -O1: the tests need it to run, not to be fast.
clippy_driver=$(command -v clippy-driver) || { echo "test.sh: clippy-driver not found; rustup component add clippy" >&2; exit 1; }
export RUSTC_WORKSPACE_WRAPPER="$clippy_driver" RUSTFLAGS="-D warnings"
export TFLITE_RS_MAKE_EXTRA_CXXFLAGS=-O1 TFLITE_RS_MAKE_EXTRA_CFLAGS=-O1
# Every test binary (and the examples) built first, so the run's time limits measure tests.
step 2400 build sh -c 'cargo nextest run --workspace --locked "$@" --lib --bins --tests --no-run &&
    cargo build --workspace --locked "$@" --examples' build "${features[@]}"
export BAYCOUNT_BUILT=debug # the scripts below use these binaries rather than build their own
step 2400 tests cargo nextest run --workspace --locked "${features[@]}" --lib --bins --tests --no-fail-fast || status=1
# Only nextest's summary: the tests' own output (shown above) holds libtest's lines too.
grep -E '^ *Summary \[' "$logs/tests.out" >>"$log" || true
# The load bench in a short debug run, for its checks that nothing is lost (its figures mean
# little in debug).
check "load check" 900 env BAYS=20 RATE=5 SECONDS=5 FLOOD=20 WS_CLIENTS=10 \
    cargo test --workspace --locked "${features[@]}" --bench load
# The REST API against its own OpenAPI document (schemathesis).
check "API schema check" 900 ./scripts/api-check.sh
# The first README command, unattended: relay + edge on the sample footage, a session through
# the API, its count in the history.
check "demo check" 900 ./scripts/demo.sh --check
# The cross-builds started at the beginning.
if finish cross; then
    echo "test result: ok. 1 passed; 0 failed (cross-builds)" >>"$log"
else
    cat "$logs/cross.out"
    echo "test result: FAILED. 0 passed; 1 failed (cross-builds)" | tee -a "$log"
    status=1
fi
tail -n 8 "$logs/cross.out"
# Deployment: systemd units verified, Cross.toml, the Debian packages (the Pi ones from the
# cross-builds) built, checked, installed.
check "packages check" 1800 ./scripts/check-packages.sh
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
