#!/usr/bin/env python3
"""The edge's job done the way a Python user would do it, for comparison with `baycount-edge bench`.

LiteRT (ai-edge-litert) + OpenCV + supervision's ByteTrack and LineZone, in one sequential loop:
read frame -> resize -> invoke -> decode -> track -> count. Same footage, model and line as the
Rust edge. Prints one JSON object with the same keys as `baycount-edge bench --json`.

    python3 bench/python_baseline.py --source assets/footage/vtest.avi \
        --model assets/models/ssd_mobilenet_v2_coco_quant_postprocess.tflite --line 0,0.6,1,0.6
"""
import argparse
import json
import resource
import sys
import time

import cv2
import numpy as np
import supervision as sv
from ai_edge_litert.interpreter import Interpreter


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--source", required=True, help="video file")
    ap.add_argument("--model", required=True, help="SSD .tflite with TFLite_Detection_PostProcess")
    ap.add_argument("--line", required=True, help="x1,y1,x2,y2 normalised")
    ap.add_argument("--class-id", type=int, default=0, help="label id to count (0 = person in COCO)")
    ap.add_argument("--score", type=float, default=0.3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--frames", type=int, default=0, help="stop after this many frames (0 = all)")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()

    interp = Interpreter(model_path=a.model, num_threads=a.threads)
    interp.allocate_tensors()
    inp = interp.get_input_details()[0]
    outs = interp.get_output_details()
    _, ih, iw, _ = inp["shape"]

    # Bare invoke time on a fixed input.
    interp.set_tensor(inp["index"], np.full(inp["shape"], 128, dtype=inp["dtype"]))
    for _ in range(5):
        interp.invoke()
    t = []
    for _ in range(50):
        t0 = time.perf_counter()
        interp.invoke()
        t.append(time.perf_counter() - t0)
    invoke_ms = float(np.median(t) * 1000)

    cap = cv2.VideoCapture(a.source)
    fps = cap.get(cv2.CAP_PROP_FPS) or 10.0
    w, h = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
    x1, y1, x2, y2 = (float(v) for v in a.line.split(","))
    zone = sv.LineZone(start=sv.Point(x1 * w, y1 * h), end=sv.Point(x2 * w, y2 * h),
                       triggering_anchors=[sv.Position.BOTTOM_CENTER])
    tracker = sv.ByteTrack(frame_rate=int(round(fps)))
    stages = {"decode": 0.0, "preprocess": 0.0, "infer": 0.0, "postprocess": 0.0, "track": 0.0}
    frames = 0
    start = time.perf_counter()
    while True:
        t0 = time.perf_counter()
        ok, frame = cap.read()
        t1 = time.perf_counter()
        if not ok or (a.frames and frames >= a.frames):
            break
        rgb = cv2.cvtColor(cv2.resize(frame, (iw, ih)), cv2.COLOR_BGR2RGB)
        interp.set_tensor(inp["index"], rgb[np.newaxis].astype(inp["dtype"]))
        t2 = time.perf_counter()
        interp.invoke()
        t3 = time.perf_counter()
        boxes, classes, scores, count = (interp.get_tensor(o["index"])[0] for o in outs[:4])
        n = int(count)
        keep = [i for i in range(n) if scores[i] >= a.score and int(classes[i]) == a.class_id]
        xyxy = np.array([[boxes[i][1] * w, boxes[i][0] * h, boxes[i][3] * w, boxes[i][2] * h] for i in keep],
                        dtype=np.float32).reshape(-1, 4)
        dets = sv.Detections(xyxy=xyxy, confidence=np.array([scores[i] for i in keep], dtype=np.float32),
                             class_id=np.array([int(classes[i]) for i in keep], dtype=int))
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
    result = {
        "runtime": "python ai-edge-litert",
        "invoke_ms": invoke_ms,
        "frames": frames,
        "seconds": seconds,
        "pipeline_fps": frames / seconds if seconds else 0.0,
        "stages_ms": {k: v * 1000 / max(frames, 1) for k, v in stages.items()},
        "outside_model_ms": sum(v for k, v in stages.items() if k != "infer") * 1000 / max(frames, 1),
        "dropped": 0,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        # supervision's LineZone names directions by its own convention (see DESIGN.md for ours).
        "supervision_in": zone.in_count,
        "supervision_out": zone.out_count,
    }
    print(json.dumps(result) if a.json else json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
