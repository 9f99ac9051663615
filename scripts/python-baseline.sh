#!/usr/bin/env bash
# Runs bench/python_baseline.py (the Python pipeline baycount is compared with) in its own venv,
# made once at ${XDG_CACHE_HOME:-~/.cache}/baycount/venv from bench/requirements.txt and made
# afresh only when that file changes. Arguments go to the script unchanged, e.g.
#
#   scripts/python-baseline.sh --source assets/footage/vtest.avi \
#       --model assets/models/ssd_mobilenet_v2_coco_quant_postprocess.tflite --line 0,0.6,1,0.6
set -euo pipefail
bench="$(cd "$(dirname "$0")/../bench" && pwd)"
venv="${XDG_CACHE_HOME:-$HOME/.cache}/baycount/venv"
stamp="$venv/requirements.txt"

if [ ! -x "$venv/bin/python" ] || ! cmp -s "$bench/requirements.txt" "$stamp"; then
  echo "python-baseline: installing bench/requirements.txt into $venv" >&2
  python3 -m venv --clear "$venv"  # a fresh one: pip leaves packages no longer asked for
  "$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$bench/requirements.txt" >&2
  cp "$bench/requirements.txt" "$stamp"
fi
exec "$venv/bin/python" "$bench/python_baseline.py" "$@"
