#!/usr/bin/env bash
# Checks the deployment files: the systemd units (systemd-analyze verify), Cross.toml, and the
# Debian packages: their contents, and the amd64 ones installed, run and purged on this machine
# (as root; systemctl aside). Run after the debug binaries are built (scripts/test.sh does).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
fail() { echo "check-packages: $*" >&2; exit 1; }

# The units, with ExecStart pointed at the built binaries (verify wants them to exist).
units=$(mktemp -d)
trap 'rm -rf "$units"' EXIT
for u in systemd/*.service; do
  sed "s|/usr/bin/|$CARGO_TARGET_DIR/debug/|" "$u" > "$units/$(basename "$u")"
done
out=$(systemd-analyze verify "$units"/*.service 2>&1) || fail "systemd-analyze verify: $out"
[ -z "$out" ] || fail "systemd-analyze verify: $out"
python3 -c 'import sys, tomllib; c = tomllib.load(open("Cross.toml", "rb")); assert {"aarch64-unknown-linux-gnu", "armv7-unknown-linux-gnueabihf"} <= set(c["target"])' \
  || fail "Cross.toml does not parse or lacks a target"

./scripts/package.sh --profile debug >/dev/null
# The Pi packages from the cross-builds: the profile the test command built them with
# (BAYCOUNT_CROSS_PROFILE), else release, else smoke.
for arch in arm64:aarch64-unknown-linux-gnu armhf:armv7-unknown-linux-gnueabihf; do
  for profile in ${BAYCOUNT_CROSS_PROFILE:-} release smoke; do
    if [ -x "$CARGO_TARGET_DIR/${arch#*:}/$profile/baycount-edge" ]; then
      ./scripts/package.sh --profile "$profile" --arch "${arch%%:*}" >/dev/null
      break
    fi
  done
done
debs="$CARGO_TARGET_DIR/debian"
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
expect() {
  local deb=$1; shift
  local listing
  listing=$(dpkg-deb -c "$deb")
  for path in "$@"; do
    grep -q " \./${path#/}\$" <<<"$listing" || fail "$(basename "$deb") lacks $path"
  done
}
for arch in amd64 arm64; do
  relay="$debs/baycount-relay_${version}_$arch.deb"
  edge="$debs/baycount-edge_${version}_$arch.deb"
  [ -f "$relay" ] && expect "$relay" /usr/bin/baycount-relay /lib/systemd/system/baycount-relay.service /etc/baycount/relay.toml
  [ -f "$edge" ] && expect "$edge" /usr/bin/baycount-edge /usr/lib/baycount/libLiteRt.so \
    /usr/share/baycount/models/ssd_mobilenet_v2_coco_quant_postprocess_int8.tflite \
    /usr/share/baycount/models/ssd_mobilenet_v2_coco_quant_postprocess.tflite \
    /usr/share/baycount/models/coco_labels.txt /lib/systemd/system/baycount-edge.service /etc/baycount/edge.toml
  [ -f "$edge" ] && { dpkg-deb -f "$edge" Architecture | grep -qx "$arch" || fail "$edge: wrong architecture"; }
done
armhf="$debs/baycount-edge_${version}_armhf.deb"
[ -f "$armhf" ] && expect "$armhf" /usr/bin/baycount-edge \
  /usr/share/baycount/models/ssd_mobilenet_v2_coco_quant_postprocess.tflite \
  /lib/systemd/system/baycount-edge.service /etc/baycount/edge.toml
for deb in "$debs"/*_"$version"_*.deb; do
  dpkg-deb -I "$deb" conffiles | grep -q '^/etc/baycount/' || fail "$(basename "$deb"): no conffile"
done

if [ "$(id -u)" -ne 0 ]; then
  echo "check-packages: contents ok; not root, so not installing"
  exit 0
fi
relay="$debs/baycount-relay_${version}_amd64.deb"
edge="$debs/baycount-edge_${version}_amd64.deb"
cleanup() { dpkg --purge baycount-relay baycount-edge >/dev/null 2>&1 || true; rm -rf "$units"; }
trap cleanup EXIT
dpkg -i "$relay" "$edge" >/dev/null
getent passwd baycount-relay >/dev/null || fail "no baycount-relay user"
getent passwd baycount-edge >/dev/null || fail "no baycount-edge user"
# A changed config survives a reinstall.
echo "# changed here" >> /etc/baycount/relay.toml
dpkg -i "$relay" >/dev/null
grep -q "# changed here" /etc/baycount/relay.toml || fail "reinstalling overwrote a changed config"

state=$(mktemp -d)
/usr/bin/baycount-relay --config /etc/baycount/relay.toml --db "$state/baycount.db" \
  --http 127.0.0.1:0 --mqtt-listen 127.0.0.1:0 >"$state/relay.log" 2>&1 &
pid=$!
read -r http _ < <(scripts/relay-addresses.sh "$state/relay.log" "$pid") || fail "the installed relay did not start"
ok=false
for _ in $(seq 100); do
  if curl -fsS "http://$http/healthz" >/dev/null 2>&1 && curl -fsS "http://$http/" | grep -q '<title>baycount'; then ok=true; break; fi
  sleep 0.1
done
kill "$pid"; wait "$pid" || true
$ok || fail "the installed relay did not answer: $(cat "$state/relay.log")"
# The installed edge finds its LiteRT library and default model where the package put them.
readelf -d /usr/bin/baycount-edge | grep -q 'RUNPATH.*\$ORIGIN/../lib/baycount' \
  || fail "the edge binary does not look for libLiteRt.so in /usr/lib/baycount"
BAYCOUNT_MODEL_DIR=/usr/share/baycount/models /usr/bin/baycount-edge count --source file:assets/footage/vtest.avi --line 0.5,0.9,0.5,0.15 \
  --frames 5 --json >"$state/count.json" 2>"$state/edge.log" || fail "the installed edge failed: $(tail -3 "$state/edge.log")"
grep -q '"frames":5' "$state/count.json" || fail "the installed edge counted nothing: $(cat "$state/count.json")"
rm -rf "$state"
echo "check-packages: units verified; packages $(cd "$debs" && ls *_"$version"_*.deb | tr '\n' ' ')built, the amd64 ones installed, run and purged"
