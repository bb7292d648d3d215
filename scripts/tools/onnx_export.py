#!/usr/bin/env python3
"""Exports a dlserve convolutional model version (model.json + weights.safetensors)
to ONNX with onnx.helper, for the peers of `make bench` and the detection eval.

Layers: conv2d (kernel_size, stride, padding as a number, bias), batch_norm
(eps), relu, leaky_relu (slope), max_pool2d (kernel_size, stride), avg_pool2d,
global_avg_pool ([C, H, W] -> [C]: GlobalAveragePool, then Flatten), flatten,
dense (units, bias; weight [out, in]: Gemm with transB), dropout (the identity
at inference) and l2_normalize (eps, default 1e-12: x / max(|x|_2, eps) over
the last axis, as F.normalize: ReduceL2, Max, Div).
Both model.json forms are read: "inputs" / "outputs", or "input_shape" (the
input is then named "input") / "output". The graph keeps the model's names;
the batch dimension is symbolic ("N").

Usage
    python3 scripts/tools/onnx_export.py models/detect-fashion/1 out.onnx
"""
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bench"))
from weights import load_safetensors  # noqa: E402


def pair(v):
    return list(v) if isinstance(v, list) else [int(v), int(v)]


def export(version_dir):
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    spec = json.load(open(os.path.join(version_dir, "model.json")))
    weights = load_safetensors(os.path.join(version_dir, "weights.safetensors"))
    inits, nodes = [], []
    if "inputs" in spec:
        inp = spec["inputs"][0]
    else:
        inp = {"name": "input", "shape": spec["input_shape"]}
    out = spec["outputs"][0] if "outputs" in spec else spec.get("output", spec["layers"][-1]["name"])
    rank = {inp["name"]: len(inp["shape"])}  # each value's rank without the batch axis

    def init(name, value=None):
        inits.append(numpy_helper.from_array((weights[name] if value is None else value).astype(np.float32), name))
        return name

    for layer in spec["layers"]:
        kind, name, a = layer["type"], layer["name"], layer.get("attrs", {})
        x = layer["inputs"][0]
        rank[name] = rank[x]
        if kind == "conv2d":
            k, s = pair(a["kernel_size"]), pair(a.get("stride", 1))
            p = a.get("padding", 0)
            if isinstance(p, str):
                raise SystemExit(f"error: {name}: padding '{p}' is not exported")
            p = pair(p)
            ins = [x, init(name + ".weight")] + ([init(name + ".bias")] if a.get("bias", True) else [])
            nodes.append(helper.make_node("Conv", ins, [name], kernel_shape=k, strides=s, pads=[p[0], p[1], p[0], p[1]]))
        elif kind == "batch_norm":
            ins = [x] + [init(f"{name}.{t}") for t in ("weight", "bias", "running_mean", "running_var")]
            nodes.append(helper.make_node("BatchNormalization", ins, [name], epsilon=float(a.get("eps", 1e-5))))
        elif kind == "relu":
            nodes.append(helper.make_node("Relu", [x], [name]))
        elif kind == "leaky_relu":
            nodes.append(helper.make_node("LeakyRelu", [x], [name], alpha=float(a.get("slope", 0.01))))
        elif kind in ("max_pool2d", "avg_pool2d"):
            k = pair(a["kernel_size"])
            s = pair(a.get("stride", a["kernel_size"]))
            nodes.append(helper.make_node("MaxPool" if kind == "max_pool2d" else "AveragePool", [x], [name], kernel_shape=k, strides=s))
        elif kind == "global_avg_pool":
            # [N, C, H, W] -> [N, C, 1, 1] -> [N, C], as the engine's [C].
            nodes.append(helper.make_node("GlobalAveragePool", [x], [name + "/pooled"]))
            nodes.append(helper.make_node("Flatten", [name + "/pooled"], [name], axis=1))
            rank[name] = 1
        elif kind == "flatten":
            nodes.append(helper.make_node("Flatten", [x], [name], axis=1))
            rank[name] = 1
        elif kind == "dropout":
            nodes.append(helper.make_node("Identity", [x], [name]))
        elif kind == "dense":
            if rank[x] != 1:
                raise SystemExit(f"error: {name}: dense on a [{rank[x]}-axis] input is not exported (only [features])")
            ins = [x, init(name + ".weight")] + ([init(name + ".bias")] if a.get("bias", True) else [])
            nodes.append(helper.make_node("Gemm", ins, [name], transB=1))
        elif kind == "l2_normalize":
            # F.normalize(x, dim=-1, eps): x / max(|x|_2, eps); ONNX's LpNormalization has no eps.
            eps = init(name + "/eps", np.array(float(a.get("eps", 1e-12))))
            nodes.append(helper.make_node("ReduceL2", [x], [name + "/norm"], axes=[-1], keepdims=1))
            nodes.append(helper.make_node("Max", [name + "/norm", eps], [name + "/clamped"]))
            nodes.append(helper.make_node("Div", [x, name + "/clamped"], [name]))
        else:
            raise SystemExit(f"error: layer type '{kind}' ({name}) is not exported")
    out_dims = ["N"] + {1: ["D"], 3: ["C", "H", "W"]}.get(rank[out], [f"D{i}" for i in range(rank[out])])
    graph = helper.make_graph(nodes, "dlserve", [helper.make_tensor_value_info(inp["name"], TensorProto.FLOAT, ["N"] + inp["shape"])],
                              [helper.make_tensor_value_info(out, TensorProto.FLOAT, out_dims)], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model.SerializeToString()


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    with open(sys.argv[2], "wb") as fh:
        fh.write(export(sys.argv[1]))
