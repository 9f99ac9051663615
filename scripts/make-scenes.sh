#!/usr/bin/env bash
# Makes the composite validation scenes, assets/scenes/<scene>.mkv, from assets/footage/vtest.avi
# with baycount-scenes (scenes/), idempotently: only when a video is missing or older than the
# generator's source. Their truth files, edge/tests/data/validation/scenes/<scene>.json, are
# committed; this checks that they are what the scripts give (and, with --truth, rewrites them).
#   scripts/make-scenes.sh           videos if stale; fails if the committed truth is stale
#   scripts/make-scenes.sh --truth   rewrites the truth files, then the videos if stale
#   scripts/make-scenes.sh --force   remakes every video
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${BAYCOUNT_SCENES_TARGET:-${BAYCOUNT_CACHE:-$HOME/.cache/baycount}/target-scenes}"
TRUTH=edge/tests/data/validation/scenes
OUT=assets/scenes
write_truth=0
force=0
for arg in "$@"; do
  case "$arg" in
    --truth) write_truth=1 ;;
    --force) force=1 ;;
    *) echo "make-scenes: unknown argument $arg (--truth, --force)" >&2; exit 2 ;;
  esac
done

if [ ! -s assets/footage/vtest.avi ]; then
  echo "make-scenes: assets/footage/vtest.avi is missing: run scripts/fetch-assets.sh" >&2
  exit 1
fi

stale=$force
if [ "$write_truth" = 1 ]; then stale=1; fi
for t in "$TRUTH"/*.json; do
  v="$OUT/$(basename "$t" .json).mkv"
  if [ ! -s "$v" ] || [ -n "$(find scenes Cargo.lock -type f -newer "$v" | head -n1)" ]; then
    stale=1
  fi
done
if [ "$stale" = 0 ]; then
  echo "make-scenes: ok ($OUT up to date)"
  exit 0
fi

nice cargo build --locked --quiet -p baycount-scenes
bin="$CARGO_TARGET_DIR/debug/baycount-scenes"
if [ "$write_truth" = 1 ]; then
  "$bin" --truth-dir "$TRUTH"
else
  "$bin" --truth-dir "$TRUTH" --check
fi
mkdir -p "$OUT"
nice "$bin" --out "$OUT"
echo "make-scenes: ok ($OUT)"
