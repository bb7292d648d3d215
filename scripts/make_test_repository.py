#!/usr/bin/env python3
"""Writes a small model repository for the HTTP scripts (schemathesis, bench)
when no trained model is at hand: model NAME (default "fashion") is the
prototype classifier of the Fashion-MNIST fixture images that the Swift test
support builds (Sources/DLServeTesting/TestRepository.swift): flatten ->
dense(10), row k the centred, unit-length mean of the preprocessed images of
class k. NumPy only.

usage: make_test_repository.py DIR [--name NAME] [--max-batch-size N]
                               [--max-queue-delay-ms MS] [--queue-capacity N]
"""
import argparse
import json
import os
import struct

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "..", "Tests", "DLServeTests", "Fixtures", "fashion-images.json")
LABELS = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
MEAN, STD = 0.2860, 0.3530


def prototype():
    examples = json.load(open(FIXTURES))
    x = np.array([np.array(e["pixels"], dtype=np.float32).ravel() for e in examples]) / 255
    x = (x - MEAN) / STD
    y = [e["label"] for e in examples]
    present = sorted(set(y))
    templates = {k: x[[i for i, l in enumerate(y) if l == k]].mean(0) for k in present}
    centre = np.mean([templates[k] for k in present], axis=0)
    w = np.zeros((10, 784), dtype=np.float32)
    b = np.full(10, -1000, dtype=np.float32)
    for k in present:
        row = templates[k] - centre
        row /= max(np.linalg.norm(row), 1e-6)
        w[k] = row
        b[k] = -row @ centre
    return w, b


def write_safetensors(path, tensors):
    header, offset, blobs = {}, 0, []
    for name, array in tensors.items():
        data = np.ascontiguousarray(array, dtype="<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(array.shape), "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("dir")
    p.add_argument("--name", default="fashion")
    p.add_argument("--max-batch-size", type=int, default=32)
    p.add_argument("--max-queue-delay-ms", type=float, default=2)
    p.add_argument("--queue-capacity", type=int, default=256)
    a = p.parse_args()
    model = os.path.join(a.dir, a.name)
    os.makedirs(os.path.join(model, "1"), exist_ok=True)
    config = {
        "name": a.name, "task": "classification", "labels": LABELS,
        "input": {"shape": [1, 28, 28], "color": "grayscale",
                  "preprocessing": {"scale": 1 / 255, "mean": [MEAN], "std": [STD], "resize": "auto", "invert": False}},
        "serving": {"max_batch_size": a.max_batch_size, "max_queue_delay_ms": a.max_queue_delay_ms,
                    "queue_capacity": a.queue_capacity, "timeout_ms": 5000, "version_policy": "latest"},
    }
    json.dump(config, open(os.path.join(model, "config.json"), "w"), indent=2)
    spec = {"format": "dlserve-model/1", "input_shape": [1, 28, 28], "output": "fc", "layers": [
        {"name": "flat", "type": "flatten", "inputs": ["input"], "attrs": {}},
        {"name": "fc", "type": "dense", "inputs": ["flat"], "attrs": {"units": 10}},
    ]}
    json.dump(spec, open(os.path.join(model, "1", "model.json"), "w"), indent=2, sort_keys=True)
    w, b = prototype()
    write_safetensors(os.path.join(model, "1", "weights.safetensors"), {"fc.bias": b, "fc.weight": w})


if __name__ == "__main__":
    main()
