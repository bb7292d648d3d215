"""Reads and writes safetensors files with NumPy only (no safetensors package):
8-byte little-endian header length, a JSON header of dtype / shape /
data_offsets (and an optional __metadata__), then the raw little-endian data."""
import json
import os
import struct

import numpy as np


def read_raw(path):
    """(metadata or None, {name: (dtype, shape, raw bytes)}) in file order."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    tensors = {}
    for name, v in header.items():
        if name == "__metadata__":
            continue
        a, b = v["data_offsets"]
        tensors[name] = (v["dtype"], v["shape"], data[a:b])
    return header.get("__metadata__"), tensors


def write_raw(path, metadata, tensors):
    """Writes what read_raw returns, atomically (a temporary file renamed into place)."""
    header, blobs, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = metadata
    for name, (dtype, shape, raw) in tensors.items():
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as fh:
        fh.write(struct.pack("<Q", len(text)))
        fh.write(text)
        for blob in blobs:
            fh.write(blob)
    os.replace(tmp, path)


def load_safetensors(path):
    """F32 tensors as numpy arrays by name."""
    out = {}
    for name, (dtype, shape, raw) in read_raw(path)[1].items():
        assert dtype == "F32", (name, dtype)
        out[name] = np.frombuffer(raw, dtype=np.float32).reshape(shape).copy()
    return out
