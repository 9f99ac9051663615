"""Makes the small test models in this directory (committed; re-run only to change them).

Each model has a 64x64 RGB input and outputs one known detection whatever the frame, laid out the
way a real model family lays it out, so the tests prove that format identification, decoding,
NMS and the labels packed inside a model work on the real runtime. They are not trained.

    python3 -m venv /tmp/tf && /tmp/tf/bin/pip install tensorflow-cpu==2.16.2 tflite-support==0.4.4
    /tmp/tf/bin/python edge/tests/data/models/make_models.py

The known detection: class 1 ("carton"), score 0.9, box x 0.25..0.75, y 0.5..1.0 (normalised).
"""

import json
import os
import zipfile

import subprocess
import sys

import numpy as np

if sys.argv[1:2] != ["--metadata"]:
    import tensorflow as tf

HERE = os.path.dirname(os.path.abspath(__file__))
SIZE = 64
NAMES = ["sack", "carton", "person"]
BOX = (0.25, 0.5, 0.75, 1.0)  # x1, y1, x2, y2
CLASS, SCORE = 1, 0.9


def convert(fn, shape, dtype="float32"):
    """A TFLite model whose output is `fn()` (constants), kept dependent on the input."""

    class M(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec(shape, dtype, name="images")])
        def __call__(self, x):
            tiny = tf.reduce_mean(tf.cast(x, tf.float32)) * 1e-9
            return [tf.constant(o) + tiny for o in fn()]

    m = M()
    conv = tf.lite.TFLiteConverter.from_concrete_functions([m.__call__.get_concrete_function()], m)
    return conv.convert()


def yolo(channels_first, pixels, anchors=84):
    """Ultralytics YOLOv8/YOLO11 raw head: [1, 4+nc, N] or [1, N, 4+nc], xywh."""
    out = np.zeros((anchors, 4 + len(NAMES)), np.float32)
    x1, y1, x2, y2 = BOX
    cx, cy, w, h = (x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1
    scale = SIZE if pixels else 1.0
    # Two overlapping candidates for the same object: NMS must keep the better one only.
    out[10, :4] = [cx * scale, cy * scale, w * scale, h * scale]
    out[10, 4 + CLASS] = SCORE
    out[11, :4] = [(cx + 0.01) * scale, cy * scale, w * scale, h * scale]
    out[11, 4 + CLASS] = 0.6
    out[12, :4] = [0.1 * scale, 0.1 * scale, 0.05 * scale, 0.05 * scale]
    out[12, 4 + 0] = 0.1  # below any sensible threshold
    if channels_first:
        out = out.T
    return [out[None]]


def end_to_end(k=300):
    """YOLOv10/YOLO26-style end-to-end output: [1, K, 6] x1, y1, x2, y2, score, class."""
    out = np.zeros((k, 6), np.float32)
    out[0] = [*BOX, SCORE, CLASS]
    out[1] = [0.0, 0.0, 0.1, 0.1, 0.05, 2]
    return [out[None]]


def postprocessed(n=10):
    """TFLite_Detection_PostProcess-shaped outputs: boxes (ymin, xmin, ymax, xmax), classes,
    scores, count. The converter reorders them (classes, count, boxes, scores), an order that no
    rule by index or shape gets right: only the metadata tells classes from scores."""
    boxes = np.zeros((1, n, 4), np.float32)
    x1, y1, x2, y2 = BOX
    boxes[0, 0] = [y1, x1, y2, x2]
    scores = np.zeros((1, n), np.float32)
    scores[0, 0] = SCORE
    classes = np.zeros((1, n), np.float32)
    classes[0, 0] = CLASS
    classes[0, 1:] = 2
    count = np.array([1.0], np.float32)
    return [boxes, classes, scores, count]


def ultralytics_metadata(path, imgsz=SIZE):
    """What Ultralytics' TFLite export packs into the model: a zip with metadata.json."""
    meta = {
        "description": "baycount test model",
        "task": "detect",
        "imgsz": [imgsz, imgsz],
        "names": {str(i): n for i, n in enumerate(NAMES)},
    }
    with zipfile.ZipFile(path, "a", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("metadata.json", json.dumps(meta, indent=2))


def tflite_metadata(path, outputs):
    """TFLite Support metadata (what Model Maker and TF Hub models carry): output names and a
    labels file packed into the model."""
    # Not `tflite_support` itself: its Task Library clashes with tensorflow's pybind types.
    from tensorflow_lite_support.metadata import metadata_schema_py_generated as fb
    from tensorflow_lite_support.metadata.python import metadata as md

    labels = os.path.join(HERE, "labelmap.txt")
    with open(labels, "w") as f:
        f.write("\n".join(NAMES) + "\n")
    model = fb.ModelMetadataT()
    model.name = "baycount test detector"
    inp = fb.TensorMetadataT()
    inp.name = "image"
    sub = fb.SubGraphMetadataT()
    sub.inputTensorMetadata = [inp]
    sub.outputTensorMetadata = []
    for name in outputs:
        t = fb.TensorMetadataT()
        t.name = name
        if name == "category":
            f = fb.AssociatedFileT()
            f.name = "labelmap.txt"
            f.type = fb.AssociatedFileType.TENSOR_VALUE_LABELS
            t.associatedFiles = [f]
        sub.outputTensorMetadata.append(t)
    model.subgraphMetadata = [sub]
    b = __import__("flatbuffers").Builder(0)
    b.Finish(model.Pack(b), md.MetadataPopulator.METADATA_FILE_IDENTIFIER)
    pop = md.MetadataPopulator.with_model_file(path)
    pop.load_metadata_buffer(b.Output())
    pop.load_associated_files([labels])
    pop.populate()
    os.remove(labels)


def write(name, data):
    path = os.path.join(HERE, name)
    with open(path, "wb") as f:
        f.write(data)
    return path


def main():
    nhwc = [1, SIZE, SIZE, 3]
    nchw = [1, 3, SIZE, SIZE]
    ultralytics_metadata(write("yolo_channels_first.tflite", convert(lambda: yolo(True, False), nhwc)))
    write("yolo_channels_last_pixels_nchw.tflite", convert(lambda: yolo(False, True), nchw))
    ultralytics_metadata(write("yolo_uint8.tflite", convert(lambda: yolo(True, False), nhwc, "uint8")))
    ultralytics_metadata(write("end_to_end.tflite", convert(end_to_end, nhwc)))
    path = write("postprocess_with_metadata.tflite", convert(postprocessed, nhwc))
    roles = ["location", "category", "score", "number of detections"]
    interpreter = tf.lite.Interpreter(model_path=path)
    # Output "PartitionedCall:k" is the k-th tensor `postprocessed` returned.
    outputs = [roles[int(d["name"].rsplit(":", 1)[1])] for d in interpreter.get_output_details()]
    # In a process of its own: the metadata library does not load beside tensorflow.
    subprocess.run([sys.executable, __file__, "--metadata", path, *outputs], check=True)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--metadata"]:
        tflite_metadata(sys.argv[2], sys.argv[3:])
    else:
        main()
