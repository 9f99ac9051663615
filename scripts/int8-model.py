"""Rewrites a uint8 TensorFlow Lite detection model as an int8 one that XNNPACK runs faster.

    int8-model.py IN.tflite OUT.tflite VIDEO

The default model (SSD MobileNet v2 COCO) is quantised the 2018 way: uint8 tensors, one
asymmetric scale per weight tensor. XNNPACK runs such a model with its QU8 kernels; its QS8
kernels (int8 activations, symmetric per-channel weights) take about 30 % less CPU on the same
model on x86 (AVX2) and are the ones newer ARM cores have dot-product kernels for. The rewrite:

* every uint8 tensor becomes int8 with its zero point 128 lower and its values shifted by 128
  (exact);
* each convolution's weights get one scale per output channel and zero point 0: a channel
  whose weights lie within 127 steps of the old zero point keeps the old step (exact; all but
  one to three channels a layer), the rest take the least coarser step that fits (rounded);
  biases follow their channel's scale;
* int8 concatenation needs its inputs on the output's scale, which uint8 concatenation did
  itself: a QUANTIZE op does it before;
* TFLite_Detection_PostProcess reads uint8 or float, not int8: DEQUANTIZE ops hand it float,
  and its anchors are stored as float.

The outputs are the same four tensors. The script then runs both models on ten frames of VIDEO
and fails if their boxes differ by more than rounding. Needs numpy and ai-edge-litert (its
flatbuffer tools and schema); scripts/fetch-assets.sh runs it in a venv of its own.
"""

import copy
import os
import subprocess
import sys

import numpy as np
from ai_edge_litert import schema_py_generated as schema
from ai_edge_litert.interpreter import Interpreter
from ai_edge_litert.tools import flatbuffer_utils

Op = schema.BuiltinOperator
UINT8, INT8, FLOAT32 = schema.TensorType.UINT8, schema.TensorType.INT8, schema.TensorType.FLOAT32
POSTPROCESS = b"TFLite_Detection_PostProcess"


def code_of(code):
    """An operator code's builtin operator (older files keep it in the deprecated field)."""
    return max(code.builtinCode, code.deprecatedBuiltinCode)


def builtin(model, op):
    return code_of(model.operatorCodes[op.opcodeIndex])


def opcode(model, op):
    """The index of builtin `op`'s operator code, added if the model has none."""
    for i, code in enumerate(model.operatorCodes):
        if code.customCode is None and code_of(code) == op:
            return i
    code = schema.OperatorCodeT()
    code.builtinCode = code.deprecatedBuiltinCode = op
    code.version = 2
    model.operatorCodes.append(code)
    return len(model.operatorCodes) - 1


def data(model, tensor, dtype):
    raw = model.buffers[tensor.buffer].data
    return None if raw is None or len(raw) == 0 else np.frombuffer(bytes(raw), dtype)


def store(model, tensor, array):
    model.buffers[tensor.buffer].data = np.frombuffer(array.tobytes(), np.uint8)


def new_tensor(model, graph, like, suffix):
    """A copy of tensor `like` with no data, appended to the graph; returns its index."""
    tensor = copy.deepcopy(like)
    tensor.name = like.name + suffix
    model.buffers.append(schema.BufferT())
    tensor.buffer = len(model.buffers) - 1
    graph.tensors.append(tensor)
    return len(graph.tensors) - 1


def per_channel_weights(model, graph, op):
    """Symmetric per-channel int8 weights and int32 biases for a uint8 convolution."""
    x, w, b = (graph.tensors[i] for i in op.inputs[:3])
    scale, zero = w.quantization.scale[0], int(w.quantization.zeroPoint[0])
    q = data(model, w, np.uint8).reshape(w.shape).astype(np.int64) - zero
    axis = 0 if builtin(model, op) == Op.CONV_2D else 3  # depthwise: [1, h, w, channels]
    others = tuple(i for i in range(4) if i != axis)
    coarser = np.maximum(np.abs(q).max(axis=others) / 127.0, 1.0)
    shape = [1, 1, 1, 1]
    shape[axis] = -1
    store(model, w, np.clip(np.round(q / coarser.reshape(shape)), -127, 127).astype(np.int8))
    w.type = INT8
    w.quantization.scale = (scale * coarser).astype(np.float32).tolist()
    w.quantization.zeroPoint = [0] * len(coarser)
    w.quantization.quantizedDimension = axis
    bias = data(model, b, np.int32).astype(np.float64) * b.quantization.scale[0]
    bias_scale = x.quantization.scale[0] * scale * coarser
    store(model, b, np.round(bias / bias_scale).astype(np.int32))
    b.quantization.scale = bias_scale.astype(np.float32).tolist()
    b.quantization.zeroPoint = [0] * len(coarser)
    b.quantization.quantizedDimension = 0
    return {op.inputs[1], op.inputs[2]}


def convert(model):
    graph = model.subgraphs[0]
    done = set()
    for op in graph.operators:
        if builtin(model, op) in (Op.CONV_2D, Op.DEPTHWISE_CONV_2D):
            if graph.tensors[op.inputs[1]].type != UINT8:
                sys.exit("int8-model: the model is not a uint8 one (its weights are not uint8); "
                         "give it to the edge as it is")
            done |= per_channel_weights(model, graph, op)
    for i, t in enumerate(graph.tensors):
        if i in done or t.type != UINT8:
            continue
        t.type = INT8
        t.quantization.zeroPoint = [int(z) - 128 for z in t.quantization.zeroPoint]
        values = data(model, t, np.uint8)
        if values is not None:
            store(model, t, values ^ 0x80)
    operators = []
    for op in graph.operators:
        if builtin(model, op) == Op.CONCATENATION:
            out = graph.tensors[op.outputs[0]].quantization
            for k, i in enumerate(list(op.inputs)):
                q = graph.tensors[i].quantization
                if list(q.scale) == list(out.scale) and list(q.zeroPoint) == list(out.zeroPoint):
                    continue
                j = new_tensor(model, graph, graph.tensors[i], b"/requantized")
                graph.tensors[j].quantization = copy.deepcopy(out)
                operators.append(operator(opcode(model, Op.QUANTIZE), [i], [j]))
                op.inputs[k] = j
        elif model.operatorCodes[op.opcodeIndex].customCode == POSTPROCESS:
            for k, i in enumerate(list(op.inputs)):
                t = graph.tensors[i]
                values = data(model, t, np.int8)
                if values is not None:
                    real = (values.astype(np.float32) - t.quantization.zeroPoint[0]) * np.float32(
                        t.quantization.scale[0]
                    )
                    store(model, t, real.astype(np.float32))
                    t.type, t.quantization = FLOAT32, None
                    continue
                j = new_tensor(model, graph, t, b"/float")
                graph.tensors[j].type, graph.tensors[j].quantization = FLOAT32, None
                operators.append(operator(opcode(model, Op.DEQUANTIZE), [i], [j]))
                op.inputs[k] = j
        operators.append(op)
    graph.operators = operators


def operator(code, inputs, outputs):
    op = schema.OperatorT()
    op.opcodeIndex, op.inputs, op.outputs = code, inputs, outputs
    return op


def finder(path):
    """A model loaded once: its input's (height, width), and a function giving the boxes (score
    0.3 or more) it finds in a picture (uint8 RGB at that size), with their scores."""
    it = Interpreter(model_path=path, num_threads=1)
    it.allocate_tensors()
    given = it.get_input_details()[0]
    shift = 128 if given["dtype"] == np.int8 else 0

    def find(picture):
        it.set_tensor(given["index"], (picture.astype(np.int16) - shift).astype(given["dtype"])[None])
        it.invoke()
        boxes, _, scores, n = (it.get_tensor(o["index"]) for o in it.get_output_details()[:4])
        n = int(n[0])
        return [(float(s), b) for b, s in zip(boxes[0][:n], scores[0][:n]) if s >= 0.3]

    return (int(given["shape"][1]), int(given["shape"][2])), find


def frames(video, h, w, count):
    """`count` frames of `video` a second apart, scaled to h x w, as uint8 RGB."""
    run = subprocess.run(
        ["ffmpeg", "-loglevel", "error", "-nostdin", "-i", video, "-vf", f"fps=1,scale={w}:{h}",
         "-frames:v", str(count), "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
        capture_output=True,
    )
    if run.returncode != 0 or not run.stdout:
        sys.exit(f"int8-model: ffmpeg cannot read frames of {video}: {run.stderr.decode().strip()}")
    raw = run.stdout
    return np.frombuffer(raw, np.uint8).reshape(-1, h, w, 3)


def check(original, converted, video):
    """Both models find the same boxes (score 0.3 or more) in frames of `video`, within
    rounding: each box of one has a box of the other within 0.02 of the picture and 0.1 of
    score, but for boxes near the score's cut."""
    (h, w), find_original = finder(original)
    _, find_converted = finder(converted)
    found = 0
    for picture in frames(video, h, w, 10):
        a, b = find_original(picture), find_converted(picture)
        for mine, theirs in ((a, b), (b, a)):
            for score, box in mine:
                if score < 0.4:
                    continue
                found += 1
                if not any(abs(score - s) <= 0.1 and np.abs(box - o).max() <= 0.02 for s, o in theirs):
                    sys.exit(f"int8-model: a box ({score:.2f} at {box}) of one model is not in the other's")
    if found == 0:
        sys.exit(f"int8-model: no model found anything in {video} to compare")
    print(f"int8-model: the two models agree on {found // 2} boxes in 10 frames of {video}")


def main():
    if len(sys.argv) != 4:
        sys.exit("usage: int8-model.py IN.tflite OUT.tflite VIDEO")
    original, converted, video = sys.argv[1:]
    try:
        model = flatbuffer_utils.read_model(original)
        graph = model.subgraphs[0]
    except Exception as e:  # a missing file, or bytes that are not a TFLite model
        sys.exit(f"int8-model: cannot read {original} as a TensorFlow Lite model: {e}")
    if not any(builtin(model, op) == Op.CONV_2D for op in graph.operators):
        sys.exit(f"int8-model: {original} has no convolution to rewrite")
    convert(model)
    flatbuffer_utils.write_model(model, converted)
    try:
        check(original, converted, video)
    except BaseException:
        os.remove(converted)  # a rewrite that does not find what the original finds is not kept
        raise


if __name__ == "__main__":
    main()
