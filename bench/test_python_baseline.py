"""Checks python_baseline's mapping of supervision's LineZone directions to ours, on hand-made
detections: `in` = the feet (bottom-centre) pass from the line's left to its right, looking along
p1->p2 with y down.

    ~/.cache/baycount/venv/bin/python -m pytest bench/test_python_baseline.py
    ~/.cache/baycount/venv/bin/python bench/test_python_baseline.py
"""
import json
import os
import tempfile

import numpy as np
import supervision as sv

from python_baseline import find_source, load_truth, make_zone, to_json, trigger

# A 200 x 200 frame; lines are normalised, as the command line takes them.
W = H = 200


def person(feet_x, feet_y, track=1):
    """One tracked 20 x 60 box whose bottom-centre (the feet) is at (feet_x, feet_y)."""
    return sv.Detections(xyxy=np.array([[feet_x - 10, feet_y - 60, feet_x + 10, feet_y]], dtype=np.float32),
                         confidence=np.array([0.9], dtype=np.float32),
                         class_id=np.array([0]), tracker_id=np.array([track]))


def walk(line, path):
    """The crossings (frame, direction) counted on `line` for one person's feet along `path`."""
    zone = make_zone(line, W, H)
    return [(frame, d) for frame, (x, y) in enumerate(path) for _, d in trigger(zone, person(x, y))]


def test_horizontal_line_left_to_right_moving_down_is_in():
    """A left-to-right line's right is below it (y down): walking down is `in`."""
    assert walk("0,0.5,1,0.5", [(100, 80), (100, 90), (100, 110), (100, 120)]) == [(2, "in")]


def test_horizontal_line_left_to_right_moving_up_is_out():
    """Walking up over a left-to-right line is `out`."""
    assert walk("0,0.5,1,0.5", [(100, 120), (100, 110), (100, 90), (100, 80)]) == [(2, "out")]


def test_horizontal_line_right_to_left_moving_down_is_out():
    """Reversing the line reverses the direction."""
    assert walk("1,0.5,0,0.5", [(100, 80), (100, 120)]) == [(1, "out")]


def test_vertical_line_bottom_to_top_moving_right_is_in():
    """A bottom-to-top line (like the training line L1) has its right on the image's right."""
    assert walk("0.5,0.9,0.5,0.1", [(80, 100), (90, 100), (110, 100)]) == [(2, "in")]
    assert walk("0.5,0.9,0.5,0.1", [(120, 100), (80, 100)]) == [(1, "out")]


def test_vertical_line_top_to_bottom_moving_right_is_out():
    """A top-to-bottom line has its right on the image's left."""
    assert walk("0.5,0.1,0.5,0.9", [(80, 100), (120, 100)]) == [(1, "out")]
    assert walk("0.5,0.1,0.5,0.9", [(120, 100), (80, 100)]) == [(1, "in")]


def test_there_and_back_counts_both_ways_with_the_track():
    """Crossing, staying, and coming back counts once each way, with the tracker's id."""
    zone = make_zone("0,0.5,1,0.5", W, H)
    got = [trigger(zone, person(100, y, track=7)) for y in (80, 120, 120, 80)]
    assert got == [[], [(7, "in")], [], [(7, "out")]]


def test_older_truth_layout_maps_compass_directions():
    """In the older truth layout east and south are `in` (the right of its lines)."""
    doc = {"video": "x", "L1": {"segment_norm": [[0.5, 0.9], [0.5, 0.15]],
                                "events": [{"frame": 3, "direction": "east"}, {"frame": 9, "direction": "west"}]},
           "L2": {"segment_norm": [[0.0, 0.55], [1.0, 0.55]],
                  "events": [{"frame": 4, "direction": "south"}, {"frame": 5, "direction": "north"}]}}
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "truth.json")
        with open(path, "w") as f:
            json.dump(doc, f)
        truth = load_truth(path)
    assert truth["source"] is None
    assert truth["lines"] == [
        {"name": "L1", "line": "0.5,0.9,0.5,0.15", "events": [(3, "in"), (9, "out")]},
        {"name": "L2", "line": "0,0.55,1,0.55", "events": [(4, "in"), (5, "out")]},
    ]


def test_relative_source_is_looked_up_from_the_truth_file_upwards():
    """A relative `source` is found in the truth file's directory or any directory above it."""
    with tempfile.TemporaryDirectory() as d:
        os.makedirs(os.path.join(d, "footage"))
        os.makedirs(os.path.join(d, "tests", "validation"))
        video = os.path.join(d, "footage", "a.avi")
        open(video, "w").close()
        truth = os.path.join(d, "tests", "validation", "a.json")
        assert find_source(truth, "footage/a.avi") == video
        assert find_source(truth, video) == video


def test_counted_json_reads_back():
    """The writer's one-crossing-a-line JSON is plain JSON, empty lines included."""
    result = {"counter": "c", "source": "s", "lines": [
        {"name": "V1", "line": "0,0.5,1,0.5", "crossings": [{"frame": 12, "direction": "in", "track": 3},
                                                             {"frame": 20, "direction": "out", "track": 3}]},
        {"name": "V2", "line": "0.5,0,0.5,1", "crossings": []}]}
    assert json.loads(to_json(result)) == result


if __name__ == "__main__":
    tests = [f for name, f in sorted(globals().items()) if name.startswith("test_")]
    for t in tests:
        t()
        print(f"ok {t.__name__}")
    print(f"{len(tests)} passed")
