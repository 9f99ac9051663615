#!/usr/bin/env bash
# Makes the composite scenes of both splits from assets/footage/vtest.avi with baycount-scenes
# (scenes/), idempotently: only when a video is missing or older than the generator's source.
#   validation: assets/scenes/<scene>.mkv, truth edge/tests/data/validation/scenes/<scene>.json
#   training:   assets/scenes-training/<scene>.mkv, truth edge/tests/data/training/scenes/<scene>.json
#   30 fps:     three validation scenes filmed at 30 frames a second, assets/scenes-30fps/<scene>.mkv,
#               truth (made here, not committed) assets/truth-30fps/<scene>.json
# The truth files are committed; this checks that they are what the scripts give (and, with
# --truth, rewrites them).
#   scripts/make-scenes.sh           videos if stale; fails if the committed truth is stale
#   scripts/make-scenes.sh --truth   rewrites the truth files, then the videos if stale
#   scripts/make-scenes.sh --force   remakes every video
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${BAYCOUNT_SCENES_TARGET:-${BAYCOUNT_CACHE:-$HOME/.cache/baycount}/target-scenes}"
# split, truth directory, video directory, frames a second, only these scenes (none: all)
SPLITS=(
  "validation edge/tests/data/validation/scenes assets/scenes 10"
  "training edge/tests/data/training/scenes assets/scenes-training 10"
  "validation assets/truth-30fps assets/scenes-30fps 30 runners step-back stand"
)
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

# Whether a split's videos need making: forced, truth being rewritten, or a video missing or
# older than the generator's source.
stale() {
  local truth=$1 out=$2 t v
  if [ "$force" = 1 ] || [ "$write_truth" = 1 ]; then return 0; fi
  for t in "$truth"/*.json; do
    v="$out/$(basename "$t" .json).mkv"
    if [ ! -s "$v" ] || [ -n "$(find scenes Cargo.lock -type f -newer "$v" | head -n1)" ]; then
      return 0
    fi
  done
  return 1
}

todo=()
for s in "${SPLITS[@]}"; do
  read -r split truth out fps only <<<"$s"
  if stale "$truth" "$out"; then todo+=("$s"); else echo "make-scenes: ok ($out up to date)"; fi
done
if [ "${#todo[@]}" = 0 ]; then exit 0; fi

nice cargo build --locked --quiet -p baycount-scenes
bin="$CARGO_TARGET_DIR/debug/baycount-scenes"
# The scenes a split entry names, as --only arguments.
only_args() {
  local n
  for n in $1; do printf -- '--only\n%s\n' "$n"; done
}
for s in "${todo[@]}"; do
  read -r split truth out fps only <<<"$s"
  mapfile -t pick < <(only_args "$only")
  if [ "$fps" != 10 ]; then
    # Not committed: made from the scripts every time.
    "$bin" --split "$split" --fps "$fps" "${pick[@]}" --truth-dir "$truth"
  elif [ "$write_truth" = 1 ]; then
    "$bin" --split "$split" --truth-dir "$truth"
  else
    "$bin" --split "$split" --truth-dir "$truth" --check
  fi
done
for s in "${todo[@]}"; do
  read -r split truth out fps only <<<"$s"
  mapfile -t pick < <(only_args "$only")
  mkdir -p "$out"
  nice "$bin" --split "$split" --fps "$fps" "${pick[@]}" --out "$out"
  echo "make-scenes: ok ($out)"
done
