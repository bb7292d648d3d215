#!/usr/bin/env python3
"""Checkpoint averaging: the element-wise mean of the weights of several
published versions of one model (same model.json), written as a new version
directory with the first version's other files (model.json, subwords,
recipe.json; metrics.json gets an "averaged_from" note).

Usage
    python3 scripts/tools/average_weights.py OUT_DIR VERSION_DIR [VERSION_DIR ...]

Reads and writes safetensors through scripts/bench/weights.py (NumPy only);
F32 tensors are averaged in float64 and stored as float32, other dtypes are
copied from the first file.
"""
import json
import os
import shutil
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bench"))
from weights import read_raw as read, write_raw as write  # noqa: E402


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    out, dirs = sys.argv[1], sys.argv[2:]
    loaded = [read(os.path.join(d, "weights.safetensors")) for d in dirs]
    metadata, first = loaded[0]
    for d, (_, t) in zip(dirs, loaded):
        if {k: (v[0], v[1]) for k, v in t.items()} != {k: (v[0], v[1]) for k, v in first.items()}:
            sys.exit(f"error: {d} has other tensors than {dirs[0]}")
    averaged = {}
    for name, (dtype, shape, raw) in first.items():
        if dtype != "F32":
            averaged[name] = (dtype, shape, raw)
            continue
        mean = np.mean([np.frombuffer(t[name][2], dtype="<f4").astype(np.float64) for _, t in loaded], axis=0)
        averaged[name] = (dtype, shape, mean.astype("<f4").tobytes())
    os.makedirs(out, exist_ok=True)
    for f in os.listdir(dirs[0]):
        if f != "weights.safetensors" and os.path.isfile(os.path.join(dirs[0], f)):
            shutil.copy2(os.path.join(dirs[0], f), os.path.join(out, f))
    write(os.path.join(out, "weights.safetensors"), metadata, averaged)
    metrics_path = os.path.join(out, "metrics.json")
    if os.path.exists(metrics_path):
        with open(metrics_path) as fh:
            metrics = json.load(fh)
        metrics["averaged_from"] = dirs
        with open(metrics_path, "w") as fh:
            json.dump(metrics, fh, indent=2, sort_keys=True)
    print(f"averaged {len(dirs)} versions ({len(averaged)} tensors) into {out}")


if __name__ == "__main__":
    main()
