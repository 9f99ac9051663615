#!/usr/bin/env bash
# Cross-builds the edge (with LiteRT) and the relay for aarch64 (Raspberry Pi 4/5 64-bit,
# Jetson) with Debian's cross toolchain, and smoke-runs them under qemu-user: both `--version`,
# and the edge's `count` on a few frames of the sample footage.
# Idempotent; `cross` itself needs Docker, which this does not.
#
#   scripts/cross-check.sh                  release builds (what the packages ship)
#   scripts/cross-check.sh --profile smoke  unoptimised, a fraction of the time (the test command)
set -euo pipefail
cd "$(dirname "$0")/.."
profile=release
case "${1:-}" in
  --profile) profile=$2 ;;
  "") ;;
  *) echo "usage: $0 [--profile release|smoke]" >&2; exit 2 ;;
esac
[ -n "${BAYCOUNT_SETUP_DONE:-}" ] || ./scripts/setup.sh >/dev/null
. scripts/env.sh
PKGS=(gcc-aarch64-linux-gnu g++-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user-static
      gcc-arm-linux-gnueabihf g++-arm-linux-gnueabihf libc6-dev-armhf-cross)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo_or() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
  sudo_or env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
for t in aarch64-unknown-linux-gnu armv7-unknown-linux-gnueabihf; do
  rustup target list --installed | grep -q "^$t\$" || rustup target add "$t"
done

# LiteRT for aarch64, from the same wheel version as the host's.
CACHE="${BAYCOUNT_CACHE:-$HOME/.cache/baycount}/downloads"
LIB=assets/litert/aarch64
if [ ! -s "$LIB/libLiteRt.so" ]; then
  whl=$(ls "$CACHE"/ai_edge_litert-2.1.4-*_aarch64.whl 2>/dev/null | head -n1 || true)
  if [ -z "$whl" ]; then
    python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.11 \
      --platform manylinux_2_27_aarch64 ai-edge-litert==2.1.4 -d "$CACHE"
    whl=$(ls "$CACHE"/ai_edge_litert-2.1.4-*_aarch64.whl | head -n1)
  fi
  mkdir -p "$LIB"
  unzip -q -o -j "$whl" ai_edge_litert/libLiteRt.so -d "$LIB"
fi

export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
export CC_aarch64_unknown_linux_gnu=aarch64-linux-gnu-gcc CXX_aarch64_unknown_linux_gnu=aarch64-linux-gnu-g++
export AR_aarch64_unknown_linux_gnu=aarch64-linux-gnu-ar
export BINDGEN_EXTRA_CLANG_ARGS_aarch64_unknown_linux_gnu="--sysroot=/usr/aarch64-linux-gnu -I/usr/aarch64-linux-gnu/include"
export LITERT_LIB_DIR="$PWD/$LIB"
cargo build --profile "$profile" --locked --target aarch64-unknown-linux-gnu -p baycount-edge -p baycount-relay
OUT="$CARGO_TARGET_DIR/aarch64-unknown-linux-gnu/$profile"
QEMU=(qemu-aarch64-static -L /usr/aarch64-linux-gnu)
for b in baycount-relay baycount-edge; do
  echo "cross-check: $b: $(file -b "$OUT/$b" | cut -d, -f1-2); needs glibc $(objdump -T "$OUT/$b" | grep -o 'GLIBC_[0-9.]*' | sort -V | tail -n1 | cut -d_ -f2)"
  "${QEMU[@]}" "$OUT/$b" --version
done
BIN="$OUT/baycount-edge"
"${QEMU[@]}" "$BIN" count --source file:assets/footage/vtest.avi --line 0.5,0.9,0.5,0.15 --frames 10 --threads 2 --json

# 32-bit Pi OS (armv7): LiteRT has no build for it, so the edge uses the tflite feature
# (TensorFlow Lite 1.15 compiled from source for the Pi, NEON; several minutes the first time).
export CARGO_TARGET_ARMV7_UNKNOWN_LINUX_GNUEABIHF_LINKER=arm-linux-gnueabihf-gcc
export CC_armv7_unknown_linux_gnueabihf=arm-linux-gnueabihf-gcc CXX_armv7_unknown_linux_gnueabihf=arm-linux-gnueabihf-g++
export AR_armv7_unknown_linux_gnueabihf=arm-linux-gnueabihf-ar
export BINDGEN_EXTRA_CLANG_ARGS_armv7_unknown_linux_gnueabihf="--sysroot=/usr/arm-linux-gnueabihf -I/usr/arm-linux-gnueabihf/include"
export TFLITE_RS_MAKE_TARGET=rpi TFLITE_RS_MAKE_TARGET_ARCH=armv7l
if [ "$profile" != release ]; then
  # TensorFlow Lite's own makefile compiles with -O3; a smoke build needs it to run, not fast.
  export TFLITE_RS_MAKE_EXTRA_CXXFLAGS=-O1 TFLITE_RS_MAKE_EXTRA_CFLAGS=-O1
fi
cargo build --profile "$profile" --locked --target armv7-unknown-linux-gnueabihf -p baycount-edge --no-default-features --features tflite
ARM="$CARGO_TARGET_DIR/armv7-unknown-linux-gnueabihf/$profile/baycount-edge"
echo "cross-check: baycount-edge (armv7, tflite): $(file -b "$ARM" | cut -d, -f1-2); needs glibc $(objdump -T "$ARM" | grep -o 'GLIBC_[0-9.]*' | sort -V | tail -n1 | cut -d_ -f2)"
QEMU_ARM=(qemu-arm-static -L /usr/arm-linux-gnueabihf)
"${QEMU_ARM[@]}" "$ARM" --version
"${QEMU_ARM[@]}" "$ARM" count --source file:assets/footage/vtest.avi --line 0.5,0.9,0.5,0.15 --frames 3 --threads 2 --json
