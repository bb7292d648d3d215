#!/usr/bin/env python3
"""Batch-1 inference latency of dlserve against onnxruntime, interleaved.

This VM's speed drifts by up to 40% from one second to the next, so figures
taken minutes apart (or in separate processes) compare the machine with
itself as much as the engines. Here both engines run in short alternating
rounds (onnxruntime in this process, dlserve in `dlserve-bench --pipe`),
the same input shape, threads and model, and each round gives a ratio of
medians. Printed: the overall medians, the median of the per-round ratios,
and in how many rounds dlserve was at least as fast.

usage: [INTERLEAVE_ONLY=MODEL[:THREADS]] interleaved.py PATH/TO/dlserve-bench [ROUNDS]"""
import os
import subprocess
import sys
import time

import numpy as np

from peers import onnx_models

PAUSE = float(os.environ.get("INTERLEAVE_PAUSE", "0.05"))
# e.g. INTERLEAVE_ONLY=ResNetMini:2 to run one model at one thread count.
ONLY = os.environ.get("INTERLEAVE_ONLY")


def main():
    binary = sys.argv[1]
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 30
    import onnxruntime as ort

    proc = subprocess.Popen([binary, "--pipe"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def dlserve(name, threads, count):
        proc.stdin.write(f"{name} {threads} {count}\n")
        proc.stdin.flush()
        line = proc.stdout.readline()
        if not line or line.startswith("error"):
            sys.exit(f"dlserve-bench --pipe: {line.strip() or 'no answer'}")
        return [float(v) for v in line.split()]

    x = np.random.default_rng(0).random((1, 1, 28, 28), dtype=np.float32)
    print(f"batch-1 latency, dlserve vs onnxruntime {ort.__version__}, {rounds} interleaved rounds")
    print(f"{'model':<12}{'threads':>8}{'dlserve ms':>12}{'ort ms':>10}{'ratio':>8}{'rounds won':>12}")
    for name, blob in onnx_models().items():
        count = 400 if name == "LeNet" else 100
        for threads in (1, 2):
            if ONLY and ONLY not in (name, f"{name}:{threads}"):
                continue
            so = ort.SessionOptions()
            so.intra_op_num_threads = threads
            so.inter_op_num_threads = 1
            sess = ort.InferenceSession(blob, so, providers=["CPUExecutionProvider"])
            for _ in range(50):
                sess.run(None, {"input": x})
            ours, theirs, ratios = [], [], []
            for _ in range(rounds):
                # A pause before each engine's turn, so that the other's
                # spinning worker threads have gone to sleep.
                time.sleep(PAUSE)
                o = []
                for _ in range(count):
                    t = time.perf_counter()
                    sess.run(None, {"input": x})
                    o.append((time.perf_counter() - t) * 1e3)
                time.sleep(PAUSE)
                d = dlserve(name, threads, count)
                ours += d
                theirs += o
                ratios.append(np.median(d) / np.median(o))
            won = sum(r <= 1 for r in ratios)
            print(f"{name:<12}{threads:>8}{np.median(ours):>12.3f}{np.median(theirs):>10.3f}"
                  f"{np.median(ratios):>8.2f}{won:>8}/{rounds}")
    proc.stdin.close()
    proc.wait()


if __name__ == "__main__":
    main()
