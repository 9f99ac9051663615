#!/usr/bin/env python3
"""The edge's job done the way a Python user would do it, for comparison with `baycount-edge`.

LiteRT (ai-edge-litert) + OpenCV + supervision's ByteTrack and LineZone (anchor: bottom-centre),
in one sequential loop: read frame -> resize -> invoke -> decode -> track -> count. Same footage
and model as the Rust edge. Run it through scripts/python-baseline.sh (it makes the venv).

Two modes:

- `--line x1,y1,x2,y2` (bench): counts one line over `--source` and prints one JSON object with
  the same keys as `baycount-edge bench --json` (timings per stage, peak RSS).
- `--truth FILE.json` (repeatable; format in edge/tests/data/validation/README.md): counts every
  line of each truth file's footage in one pass and writes each counted crossing (frame, our
  direction, track) as JSON, to stdout or to `--counted-out DIR/<truth file's name>`.

    scripts/python-baseline.sh --source assets/footage/vtest.avi \
        --model assets/models/ssd_mobilenet_v2_coco_quant_postprocess.tflite --line 0,0.6,1,0.6
    scripts/python-baseline.sh --truth edge/tests/data/vtest_ground_truth.json \
        --source assets/footage/vtest.avi \
        --model assets/models/ssd_mobilenet_v2_coco_quant_postprocess.tflite
"""
import argparse
import importlib.metadata
import json
import os
import resource
import sys
import time

import cv2
import numpy as np
import supervision as sv
from ai_edge_litert.interpreter import Interpreter

# Directions in the older truth layout: east and south are on the right of its lines (`in`).
COMPASS_IN = {"east": "in", "south": "in", "west": "out", "north": "out"}


def parse_args(argv=None):
    """The command line; exactly one of --line and --truth."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--source", help="video file (with --truth: instead of the file's `source`)")
    ap.add_argument("--model", required=True, help="SSD .tflite with TFLite_Detection_PostProcess")
    mode = ap.add_mutually_exclusive_group(required=True)
    mode.add_argument("--line", help="x1,y1,x2,y2 normalised: bench one line")
    mode.add_argument("--truth", action="append", metavar="FILE.json",
                      help="count every line of this truth file (repeatable)")
    ap.add_argument("--counted-out", metavar="DIR", help="with --truth: write DIR/<truth file's name>")
    ap.add_argument("--class-id", type=int, default=0, help="label id to count (0 = person in COCO)")
    ap.add_argument("--score", type=float, default=0.3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--frames", type=int, default=0, help="stop after this many frames (0 = all)")
    ap.add_argument("--json", action="store_true", help="bench: one line of JSON")
    a = ap.parse_args(argv)
    if a.line and not a.source:
        ap.error("--line needs --source")
    if a.truth and len(a.truth) > 1 and not a.counted_out:
        ap.error("more than one --truth needs --counted-out DIR")
    return a


class Model:
    """A LiteRT interpreter for an SSD model with its input and output details, read once."""

    def __init__(self, path, threads):
        """Loads the model and allocates its tensors."""
        self.interp = Interpreter(model_path=path, num_threads=threads)
        self.interp.allocate_tensors()
        self.inp = self.interp.get_input_details()[0]
        self.outs = self.interp.get_output_details()
        _, self.ih, self.iw, _ = self.inp["shape"]

    def invoke_ms(self):
        """Median time of a bare invoke on a fixed input, in milliseconds."""
        self.interp.set_tensor(self.inp["index"], np.full(self.inp["shape"], 100, dtype=self.inp["dtype"]))
        for _ in range(5):
            self.interp.invoke()
        t = []
        for _ in range(50):
            t0 = time.perf_counter()
            self.interp.invoke()
            t.append(time.perf_counter() - t0)
        return float(np.median(t) * 1000)

    def preprocess(self, frame):
        """Resizes a BGR frame to the model's input, as RGB, and sets it as the input tensor
        (an int8 input takes the pixels less 128)."""
        rgb = cv2.cvtColor(cv2.resize(frame, (self.iw, self.ih)), cv2.COLOR_BGR2RGB)
        if self.inp["dtype"] == np.int8:
            rgb = (rgb.astype(np.int16) - 128).astype(np.int8)
        self.interp.set_tensor(self.inp["index"], rgb[np.newaxis].astype(self.inp["dtype"]))

    def invoke(self):
        """Runs the model on the input set last."""
        self.interp.invoke()

    def decode(self, w, h, score, class_id):
        """The boxes of `class_id` scoring at least `score`, in pixels of a w x h frame."""
        boxes, classes, scores, count = (self.interp.get_tensor(o["index"])[0] for o in self.outs[:4])
        keep = [i for i in range(int(count)) if scores[i] >= score and int(classes[i]) == class_id]
        xyxy = np.array([[boxes[i][1] * w, boxes[i][0] * h, boxes[i][3] * w, boxes[i][2] * h] for i in keep],
                        dtype=np.float32).reshape(-1, 4)
        return sv.Detections(xyxy=xyxy, confidence=np.array([scores[i] for i in keep], dtype=np.float32),
                             class_id=np.array([int(classes[i]) for i in keep], dtype=int))

    def detect(self, frame, score, class_id):
        """One frame through the model: the kept detections."""
        h, w = frame.shape[:2]
        self.preprocess(frame)
        self.invoke()
        return self.decode(w, h, score, class_id)


def open_video(path):
    """An OpenCV capture of the file with its frame rate (10 when unknown) and size."""
    cap = cv2.VideoCapture(path)
    if not cap.isOpened():
        sys.exit(f"python_baseline: cannot open {path}")
    fps = cap.get(cv2.CAP_PROP_FPS) or 10.0
    w, h = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
    return cap, fps, w, h


def make_tracker(fps):
    """supervision's ByteTrack at the footage's frame rate, other settings its defaults."""
    return sv.ByteTrack(frame_rate=int(round(fps)))


def make_zone(line, w, h):
    """A supervision LineZone for a normalised `x1,y1,x2,y2` line on a w x h frame, triggered by
    the boxes' bottom-centre (the feet); other settings supervision's defaults."""
    x1, y1, x2, y2 = (float(v) for v in line.split(","))
    return sv.LineZone(start=sv.Point(x1 * w, y1 * h), end=sv.Point(x2 * w, y2 * h),
                       triggering_anchors=[sv.Position.BOTTOM_CENTER])


def trigger(zone, dets):
    """Feeds tracked detections to the zone; returns its crossings as (track, direction) in OUR
    convention: `in` = the anchor passes from the line's left to its right looking along p1->p2
    with y down. supervision counts `in` the other way (towards the side where
    (p2-p1) x (anchor-p1) < 0, the left with y down), so its `in` is our `out`."""
    crossed_in, crossed_out = zone.trigger(dets)
    if dets.tracker_id is None:
        return []
    return [(int(t), "out" if i else "in")
            for t, i, o in zip(dets.tracker_id, crossed_in, crossed_out) if i or o]


def bench(a):
    """The --line mode: times each stage over the footage and returns the bench's JSON object."""
    model = Model(a.model, a.threads)
    invoke = model.invoke_ms()
    cap, fps, w, h = open_video(a.source)
    zone = make_zone(a.line, w, h)
    tracker = make_tracker(fps)
    stages = {"decode": 0.0, "preprocess": 0.0, "infer": 0.0, "postprocess": 0.0, "track": 0.0}
    frames = 0
    start = time.perf_counter()
    while True:
        t0 = time.perf_counter()
        ok, frame = cap.read()
        t1 = time.perf_counter()
        if not ok or (a.frames and frames >= a.frames):
            break
        model.preprocess(frame)
        t2 = time.perf_counter()
        model.invoke()
        t3 = time.perf_counter()
        dets = model.decode(w, h, a.score, a.class_id)
        t4 = time.perf_counter()
        dets = tracker.update_with_detections(dets)
        zone.trigger(dets)
        t5 = time.perf_counter()
        for k, (s, e) in zip(stages, [(t0, t1), (t1, t2), (t2, t3), (t3, t4), (t4, t5)]):
            stages[k] += e - s
        frames += 1
        if frames % 100 == 0:
            print(f"frame {frames}: in {zone.in_count} out {zone.out_count}", file=sys.stderr)
    seconds = time.perf_counter() - start
    return {
        "runtime": "python ai-edge-litert",
        "invoke_ms": invoke,
        "frames": frames,
        "seconds": seconds,
        "pipeline_fps": frames / seconds if seconds else 0.0,
        "stages_ms": {k: v * 1000 / max(frames, 1) for k, v in stages.items()},
        "outside_model_ms": sum(v for k, v in stages.items() if k != "infer") * 1000 / max(frames, 1),
        "dropped": 0,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        # supervision's LineZone names directions by its own convention (see trigger() for ours).
        "supervision_in": zone.in_count,
        "supervision_out": zone.out_count,
    }


def format_line(points):
    """`x1,y1,x2,y2` from the older layout's [[x1, y1], [x2, y2]]."""
    return ",".join(f"{v:g}" for p in points for v in p)


def load_truth(path):
    """A truth file as {"source": str or None, "lines": [{"name", "line", "events"}]} with events
    as (frame, "in"/"out"); reads the current layout and the older one (top-level lines with
    `segment_norm` and compass directions)."""
    with open(path) as f:
        doc = json.load(f)
    if "lines" in doc:
        lines = [{"name": l["name"], "line": l["line"],
                  "events": [(e["frame"], e["direction"]) for e in l.get("events", [])]}
                 for l in doc["lines"]]
    else:
        lines = [{"name": k, "line": format_line(v["segment_norm"]),
                  "events": [(e["frame"], COMPASS_IN[e["direction"]]) for e in v.get("events", [])]}
                 for k, v in doc.items() if isinstance(v, dict) and "segment_norm" in v]
    return {"source": doc.get("source"), "lines": lines}


def find_source(truth_path, source):
    """The footage's path: as given when absolute, else the first that exists of the truth file's
    directory and each directory above it joined with `source`."""
    if os.path.isabs(source):
        return source
    d = os.path.dirname(os.path.abspath(truth_path))
    while True:
        candidate = os.path.join(d, source)
        if os.path.exists(candidate):
            return candidate
        parent = os.path.dirname(d)
        if parent == d:
            sys.exit(f"python_baseline: {source} (from {truth_path}) not found")
        d = parent


def counter_name():
    """What counted: the stack and its versions."""
    versions = [importlib.metadata.version(p) for p in ("ai-edge-litert", "opencv-python", "supervision")]
    return "python: ai-edge-litert + opencv + supervision ({})".format(", ".join(versions))


def count_truth(model, truth_path, a):
    """The --truth mode for one file: one pass of detection and one ByteTrack over its footage,
    one LineZone per line; returns the counted crossings per line, in frame order."""
    truth = load_truth(truth_path)
    source = a.source or truth["source"]
    if not source:
        sys.exit(f"python_baseline: {truth_path} names no source; give --source")
    cap, fps, w, h = open_video(a.source or find_source(truth_path, source))
    tracker = make_tracker(fps)
    zones = [make_zone(l["line"], w, h) for l in truth["lines"]]
    crossings = [[] for _ in zones]
    frame_index = 0
    while not a.frames or frame_index < a.frames:
        ok, frame = cap.read()
        if not ok:
            break
        dets = tracker.update_with_detections(model.detect(frame, a.score, a.class_id))
        for zone, found in zip(zones, crossings):
            found += [{"frame": frame_index, "direction": d, "track": t} for t, d in trigger(zone, dets)]
        frame_index += 1
    return {"counter": counter_name(), "source": source,
            "lines": [{"name": l["name"], "line": l["line"], "crossings": c}
                      for l, c in zip(truth["lines"], crossings)]}


def to_json(result):
    """The counted crossings as JSON text, one crossing a line."""
    lines = []
    for l in result["lines"]:
        crossings = "".join("\n      " + json.dumps(c) + "," for c in l["crossings"])[:-1]
        end = "\n    ]}" if crossings else "]}"
        lines.append('    {"name": %s, "line": %s, "crossings": [%s%s'
                     % (json.dumps(l["name"]), json.dumps(l["line"]), crossings, end))
    return ('{\n  "counter": %s,\n  "source": %s,\n  "lines": [\n%s\n  ]\n}\n'
            % (json.dumps(result["counter"]), json.dumps(result["source"]), ",\n".join(lines)))


def run_truth(a):
    """The --truth mode: counts each truth file and writes the results."""
    model = Model(a.model, a.threads)
    for path in a.truth:
        result = count_truth(model, path, a)
        text = to_json(result)
        if a.counted_out:
            os.makedirs(a.counted_out, exist_ok=True)
            with open(os.path.join(a.counted_out, os.path.basename(path)), "w") as f:
                f.write(text)
        else:
            sys.stdout.write(text)


def main():
    """Runs the mode the command line asks for."""
    a = parse_args()
    if a.truth:
        run_truth(a)
    else:
        result = bench(a)
        print(json.dumps(result) if a.json else json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
