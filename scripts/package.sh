#!/usr/bin/env bash
# Builds the Debian packages: baycount-relay and baycount-edge, for amd64 (native) and, when
# their binaries have been cross-built, arm64. Packages land in $CARGO_TARGET_DIR/debian.
#
#   scripts/package.sh                  release build, amd64
#   scripts/package.sh --profile debug  from the debug binaries the tests built (CI check)
#   scripts/package.sh --arch arm64     from scripts/cross-check.sh's aarch64 binaries
#   scripts/package.sh --arch armhf     the edge for 32-bit Pi OS (tflite runtime)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
profile=release
arches=(amd64)
while [ $# -gt 0 ]; do
  case "$1" in
    --profile) profile=$2; shift 2 ;;
    --arch) arches=("$2"); shift 2 ;;
    *) echo "usage: $0 [--profile release|debug|smoke] [--arch amd64|arm64|armhf]" >&2; exit 2 ;;
  esac
done
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
out="$CARGO_TARGET_DIR/debian"
mkdir -p "$out"

# $1 package, $2 arch, $3 staging dir, $4 description, $5 depends, $6 recommends
control() {
  local size
  size=$(du -sk --exclude=DEBIAN "$3" | cut -f1)
  cat > "$3/DEBIAN/control" <<CONTROL
Package: $1
Version: $version
Architecture: $2
Maintainer: baycount <baycount@localhost>
Section: misc
Priority: optional
Installed-Size: $size
Depends: $5
Recommends: $6
Homepage: https://github.com/baycount/baycount
Description: $4
CONTROL
}

# Maintainer scripts: a system user, the unit enabled (not started: configure first), state
# removed only on purge. The config in /etc/baycount is a conffile: dpkg never overwrites a
# changed one.
scripts() {
  local pkg=$1 user=$2 groups=$3 dir=$4
  cat > "$dir/DEBIAN/postinst" <<POSTINST
#!/bin/sh
set -e
if [ "\$1" = configure ]; then
  if ! getent passwd $user >/dev/null; then
    adduser --system --group --no-create-home --home /var/lib/$user --quiet $user
  fi
  for g in $groups; do
    getent group \$g >/dev/null && adduser --quiet $user \$g || true
  done
  if [ -d /run/systemd/system ]; then
    systemctl daemon-reload >/dev/null || true
    systemctl enable $pkg.service >/dev/null || true
    systemctl try-restart $pkg.service >/dev/null || true
  fi
fi
POSTINST
  cat > "$dir/DEBIAN/prerm" <<PRERM
#!/bin/sh
set -e
if [ "\$1" = remove ] && [ -d /run/systemd/system ]; then
  systemctl disable --now $pkg.service >/dev/null || true
fi
PRERM
  cat > "$dir/DEBIAN/postrm" <<POSTRM
#!/bin/sh
set -e
if [ "\$1" = purge ]; then
  rm -rf /var/lib/$user
  getent passwd $user >/dev/null && deluser --quiet --system $user || true
fi
if [ -d /run/systemd/system ]; then systemctl daemon-reload >/dev/null || true; fi
POSTRM
  chmod 0755 "$dir/DEBIAN/postinst" "$dir/DEBIAN/prerm" "$dir/DEBIAN/postrm"
}

for arch in "${arches[@]}"; do
  case "$arch" in
    amd64) bin="$CARGO_TARGET_DIR/$profile" litert=assets/litert/host strip=strip ;;
    arm64) bin="$CARGO_TARGET_DIR/aarch64-unknown-linux-gnu/$profile" litert=assets/litert/aarch64 strip=aarch64-linux-gnu-strip ;;
    # 32-bit Pi OS: the edge only, with TensorFlow Lite linked in (no LiteRT library).
    armhf) bin="$CARGO_TARGET_DIR/armv7-unknown-linux-gnueabihf/$profile" litert= strip=arm-linux-gnueabihf-strip ;;
    *) echo "package: unknown arch $arch" >&2; exit 2 ;;
  esac
  if [ "$arch" = amd64 ] && [ "$profile" = release ]; then
    cargo build --release --locked -p baycount-relay -p baycount-edge
  fi

  for pkg in baycount-relay baycount-edge; do
    # The relay runs on a server or a 64-bit Pi; 32-bit Pi OS gets the edge only.
    [ "$arch" = armhf ] && [ "$pkg" = baycount-relay ] && continue
    [ -x "$bin/$pkg" ] || { echo "package: $bin/$pkg is not built; skipping $pkg for $arch"; continue; }
    dir=$(mktemp -d)
    mkdir -p "$dir/DEBIAN" "$dir/usr/bin" "$dir/lib/systemd/system" "$dir/etc/baycount" "$dir/usr/share/doc/$pkg"
    install -m 0755 "$bin/$pkg" "$dir/usr/bin/$pkg"
    # Stripped, as Debian ships binaries: a fraction of the size, and quick to compress.
    "$strip" --strip-unneeded "$dir/usr/bin/$pkg"
    install -m 0644 "systemd/$pkg.service" "$dir/lib/systemd/system/$pkg.service"
    install -m 0644 README.md "$dir/usr/share/doc/$pkg/README.md"
    case "$pkg" in
      baycount-relay)
        install -m 0640 relay/relay.example.toml "$dir/etc/baycount/relay.toml"
        echo /etc/baycount/relay.toml > "$dir/DEBIAN/conffiles"
        scripts "$pkg" baycount-relay "" "$dir"
        control "$pkg" "$arch" "$dir" \
          "loading bay counter: relay (Telegram bot, API, dashboard, history, MQTT broker)" \
          "libc6 (>= 2.34), adduser" ""
        ;;
      baycount-edge)
        mkdir -p "$dir/usr/share/baycount/models"
        if [ -n "$litert" ]; then
          mkdir -p "$dir/usr/lib/baycount"
          install -m 0644 "$litert/libLiteRt.so" "$dir/usr/lib/baycount/libLiteRt.so"
          # LiteRT's default model: the int8 rewrite (scripts/int8-model.py); the old runtime
          # of the armhf build reads the uint8 one.
          install -m 0644 assets/models/ssd_mobilenet_v2_coco_quant_postprocess_int8.tflite \
            "$dir/usr/share/baycount/models/"
        fi
        install -m 0644 assets/models/ssd_mobilenet_v2_coco_quant_postprocess.tflite \
          assets/models/coco_labels.txt "$dir/usr/share/baycount/models/"
        # An installed edge counts from its camera; the example's synthetic scene is for demos.
        sed 's|^source = "synthetic"|source = "v4l:/dev/video0"|' edge/edge.example.toml \
          > "$dir/etc/baycount/edge.toml"
        chmod 0640 "$dir/etc/baycount/edge.toml"
        echo /etc/baycount/edge.toml > "$dir/DEBIAN/conffiles"
        scripts "$pkg" baycount-edge "video gpio" "$dir"
        control "$pkg" "$arch" "$dir" \
          "loading bay counter: edge (camera, detector, counting line, lamps and button)" \
          "libc6 (>= 2.34), adduser" "ffmpeg"
        ;;
    esac
    deb="$out/${pkg}_${version}_${arch}.deb"
    dpkg-deb --root-owner-group --build "$dir" "$deb" >/dev/null
    rm -rf "$dir"
    echo "package: $deb"
  done
done
