#!/usr/bin/env python3
"""A KServe V2 client as a new user writes it: tritonclient against dlserve.

Reads the model's metadata (inputs with datatypes, labels, preprocessing),
then classifies the first N Fashion-MNIST test images three ways and prints
one JSON line with how many each got right:

  image_uint8   raw pixels as the declared UINT8 "image" input (binary
                extension); the server preprocesses them as classify does
  input_fp32    pixels normalised by hand with the numbers the metadata
                advertises: (x * scale - mean) / std, as FP32 "input"
  naive_fp32    pixels scaled to [0, 1] only (what a user does who did not
                read the metadata): the baseline the metadata fixes

Usage: python3 scripts/examples/tritonclient_fashion.py --url 127.0.0.1:8080
       [--model fashion-mnist] [--count 200] [--data /usr/share/datasets/fashion-mnist]
Needs: pip install "tritonclient[http]" numpy
"""
import argparse
import gzip
import json
import os

import numpy as np
import tritonclient.http as httpclient


def idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", default="127.0.0.1:8080")
    ap.add_argument("--model", default="fashion-mnist")
    ap.add_argument("--count", type=int, default=200)
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    args = ap.parse_args()

    images = idx(os.path.join(args.data, "t10k-images-idx3-ubyte.gz"))[: args.count]
    labels = idx(os.path.join(args.data, "t10k-labels-idx1-ubyte.gz"))[: args.count]
    client = httpclient.InferenceServerClient(url=args.url)
    meta = client.get_model_metadata(args.model)
    inputs = {i["name"]: i for i in meta["inputs"]}
    outputs = [o["name"] for o in meta["outputs"]]
    assert "image" in inputs and inputs["image"]["datatype"] == "UINT8", inputs
    assert "probabilities" in outputs, outputs
    pre = meta["preprocessing"]["image"]
    scale, mean, std = pre["scale"], np.array(pre["mean"], np.float32), np.array(pre["std"], np.float32)

    def run(name, datatype, x):
        inp = httpclient.InferInput(name, list(x.shape), datatype)
        inp.set_data_from_numpy(x, binary_data=True)
        out = httpclient.InferRequestedOutput("probabilities", binary_data=True)
        result = client.infer(args.model, [inp], outputs=[out])
        p = result.as_numpy("probabilities")
        assert p.shape == (len(x), len(meta["labels"])), p.shape
        assert np.allclose(p.sum(axis=1), 1, atol=1e-4)
        return int((p.argmax(axis=1) == labels).sum())

    x = images.astype(np.float32)
    report = {
        "count": int(len(labels)),
        "image_uint8": run("image", "UINT8", images),
        "input_fp32": run("input", "FP32", ((x * scale - mean) / std)[:, None, :, :].astype(np.float32)),
        "naive_fp32": run("input", "FP32", (x / 255)[:, None, :, :].astype(np.float32)),
        "labels": meta["labels"][:3] + ["..."],
    }
    print(json.dumps(report))


if __name__ == "__main__":
    main()
