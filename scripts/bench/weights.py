"""Reads a safetensors file (F32 tensors) into numpy arrays, without the safetensors package."""
import json
import struct

import numpy as np


def load_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, v in header.items():
        if name == "__metadata__":
            continue
        assert v["dtype"] == "F32", (name, v["dtype"])
        a, b = v["data_offsets"]
        out[name] = np.frombuffer(data[a:b], dtype=np.float32).reshape(v["shape"]).copy()
    return out
