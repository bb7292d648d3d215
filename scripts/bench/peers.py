#!/usr/bin/env python3
"""Peer figures for `make bench`: the same two reference networks (LeNet and
ResNetMini, input 1x28x28) in onnxruntime (inference) and, when PyTorch is
importable, PyTorch (training throughput, batch 64, Adam). Prints the same
table layout as dlserve-bench so the ratios can be read side by side.
Weights are random: speed does not depend on their values."""
import os
import sys
import time

import numpy as np

RNG = np.random.default_rng(0)


def stats(samples):
    s = np.sort(np.asarray(samples))
    return float(np.median(s)), float(s[min(len(s) - 1, int(0.99 * len(s)))])


def onnx_models():
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    def w(name, shape, inits):
        inits.append(numpy_helper.from_array(RNG.standard_normal(shape).astype(np.float32) * 0.1, name))
        return name

    def conv(nodes, inits, x, name, cin, cout, k, stride=1, pad=0):
        nodes.append(helper.make_node("Conv", [x, w(name + ".w", [cout, cin, k, k], inits), w(name + ".b", [cout], inits)],
                                      [name], kernel_shape=[k, k], strides=[stride, stride], pads=[pad] * 4))
        return name

    def bn(nodes, inits, x, name, c):
        inits.append(numpy_helper.from_array(np.ones(c, np.float32), name + ".g"))
        inits.append(numpy_helper.from_array(np.zeros(c, np.float32), name + ".b"))
        inits.append(numpy_helper.from_array(np.zeros(c, np.float32), name + ".m"))
        inits.append(numpy_helper.from_array(np.ones(c, np.float32), name + ".v"))
        nodes.append(helper.make_node("BatchNormalization", [x, name + ".g", name + ".b", name + ".m", name + ".v"], [name]))
        return name

    def relu(nodes, x, name):
        nodes.append(helper.make_node("Relu", [x], [name]))
        return name

    def gemm(nodes, inits, x, name, fin, fout):
        nodes.append(helper.make_node("Gemm", [x, w(name + ".w", [fout, fin], inits), w(name + ".b", [fout], inits)], [name], transB=1))
        return name

    def finish(nodes, inits, out, name):
        graph = helper.make_graph(nodes, name,
                                  [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 1, 28, 28])],
                                  [helper.make_tensor_value_info(out, TensorProto.FLOAT, ["N", 10])], inits)
        m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
        m.ir_version = 8
        onnx.checker.check_model(m)
        return m.SerializeToString()

    # LeNet
    n, i = [], []
    x = relu(n, conv(n, i, "input", "c1", 1, 6, 5, pad=2), "r1")
    n.append(helper.make_node("MaxPool", [x], ["p1"], kernel_shape=[2, 2], strides=[2, 2]))
    x = relu(n, conv(n, i, "p1", "c2", 6, 16, 5), "r2")
    n.append(helper.make_node("MaxPool", [x], ["p2"], kernel_shape=[2, 2], strides=[2, 2]))
    n.append(helper.make_node("Flatten", ["p2"], ["f"]))
    x = relu(n, gemm(n, i, "f", "d1", 400, 120), "r3")
    x = relu(n, gemm(n, i, x, "d2", 120, 84), "r4")
    lenet = finish(n, i, gemm(n, i, x, "d3", 84, 10), "lenet")

    # ResNetMini
    n, i = [], []
    x = relu(n, bn(n, i, conv(n, i, "input", "stem", 1, 32, 3, pad=1), "stem_bn", 32), "stem_r")

    def block(x, name, c):
        y = relu(n, bn(n, i, conv(n, i, x, name + "c1", c, c, 3, pad=1), name + "b1", c), name + "r1")
        y = bn(n, i, conv(n, i, y, name + "c2", c, c, 3, pad=1), name + "b2", c)
        n.append(helper.make_node("Add", [y, x], [name + "add"]))
        return relu(n, name + "add", name + "out")

    x = block(x, "b1", 32)
    x = block(x, "b2", 32)
    y = relu(n, bn(n, i, conv(n, i, x, "d1", 32, 64, 3, stride=2, pad=1), "dbn1", 64), "dr1")
    y = bn(n, i, conv(n, i, y, "d2", 64, 64, 3, pad=1), "dbn2", 64)
    s = bn(n, i, conv(n, i, x, "ds", 32, 64, 1, stride=2), "dsbn", 64)
    n.append(helper.make_node("Add", [y, s], ["dadd"]))
    x = relu(n, "dadd", "dout")
    x = block(x, "b3", 64)
    n.append(helper.make_node("GlobalAveragePool", [x], ["gap"]))
    n.append(helper.make_node("Flatten", ["gap"], ["gf"]))
    resnet = finish(n, i, gemm(n, i, "gf", "fc", 64, 10), "resnetmini")
    return {"LeNet": lenet, "ResNetMini": resnet}


def bench_onnxruntime():
    try:
        import onnxruntime as ort
    except ImportError:
        print("onnxruntime: not installed (pip install onnxruntime)")
        return
    print(f"onnxruntime {ort.__version__} (CPU), inference")
    print(f"{'model':<12}{'threads':>8}{'b1 median ms':>14}{'b1 p99 ms':>11}{'b64 img/s':>11}")
    for name, blob in onnx_models().items():
        for threads in (1, 2):
            so = ort.SessionOptions()
            so.intra_op_num_threads = threads
            so.inter_op_num_threads = 1
            sess = ort.InferenceSession(blob, so, providers=["CPUExecutionProvider"])
            x1 = RNG.random((1, 1, 28, 28), dtype=np.float32)
            x64 = RNG.random((64, 1, 28, 28), dtype=np.float32)
            for _ in range(50):
                sess.run(None, {"input": x1})
            lat = []
            for _ in range(1000):
                t = time.perf_counter()
                sess.run(None, {"input": x1})
                lat.append((time.perf_counter() - t) * 1e3)
            med, p99 = stats(lat)
            sess.run(None, {"input": x64})
            reps = 40
            t = time.perf_counter()
            for _ in range(reps):
                sess.run(None, {"input": x64})
            ips = reps * 64 / (time.perf_counter() - t)
            print(f"{name:<12}{threads:>8}{med:>14.3f}{p99:>11.3f}{ips:>11.0f}")


def bench_torch():
    try:
        import torch
        import torch.nn as nn
    except Exception as e:  # noqa: BLE001
        print(f"PyTorch: not available here ({type(e).__name__}); training peer skipped")
        return

    class Block(nn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.c1 = nn.Conv2d(cin, cout, 3, stride, 1)
            self.b1 = nn.BatchNorm2d(cout)
            self.c2 = nn.Conv2d(cout, cout, 3, 1, 1)
            self.b2 = nn.BatchNorm2d(cout)
            self.sc = nn.Sequential() if stride == 1 and cin == cout else nn.Sequential(nn.Conv2d(cin, cout, 1, stride), nn.BatchNorm2d(cout))

        def forward(self, x):
            y = torch.relu(self.b1(self.c1(x)))
            return torch.relu(self.b2(self.c2(y)) + self.sc(x))

    def lenet():
        return nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(6, 16, 5), nn.ReLU(),
                             nn.MaxPool2d(2), nn.Flatten(), nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
                             nn.Linear(84, 10))

    def resnet():
        return nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), Block(32, 32, 1), Block(32, 32, 1),
                             Block(32, 64, 2), Block(64, 64, 1), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10))

    print(f"PyTorch {torch.__version__}, training (batch 64, Adam)")
    print(f"{'model':<12}{'threads':>8}{'train img/s':>13}")
    for name, make in (("LeNet", lenet), ("ResNetMini", resnet)):
        for threads in (1, 2):
            torch.set_num_threads(threads)
            m = make()
            opt = torch.optim.Adam(m.parameters(), 1e-3)
            x = torch.rand(64, 1, 28, 28)
            y = torch.randint(0, 10, (64,))
            lossf = nn.CrossEntropyLoss()
            for _ in range(5):
                opt.zero_grad(); lossf(m(x), y).backward(); opt.step()
            steps = 30
            t = time.perf_counter()
            for _ in range(steps):
                opt.zero_grad(); lossf(m(x), y).backward(); opt.step()
            print(f"{name:<12}{threads:>8}{steps * 64 / (time.perf_counter() - t):>13.0f}")


if __name__ == "__main__":
    bench_onnxruntime()
    bench_torch()
    sys.stdout.flush()
