#!/usr/bin/env python3
"""The shipped detector against onnxruntime running the same graph, interleaved.

dlserve: `dlserve-bench --pipe` (DetectionBench): letterbox, the model's
inference plan, decode, per-class NMS, per image (batch 1) and per 16 images.
Peer: the same weights exported to ONNX (scripts/tools/onnx_export.py) in
onnxruntime, the letterbox resized by Pillow (C), decoding and NMS in NumPy
(scripts/tools/yolo_numpy.py), on the same 200 test scenes, images already
decoded on both sides. The agreement check resizes exactly as DLVision does
(so the inputs are identical); the timed peer uses Pillow's faster resize. Both run in short alternating rounds (this VM's speed
drifts); printed: median milliseconds, the median of per-round ratios
(dlserve / onnxruntime; below 1 is faster), detections per second, and how
far the two engines' detections agree (matched boxes at IoU >= 0.9 with the
same class).

usage: detection.py PATH/TO/dlserve-bench [ROUNDS]"""
import json
import os
import subprocess
import sys
import time

import numpy as np
from PIL import Image

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO_ROOT, "scripts", "tools"))
import onnx_export  # noqa: E402
from yolo_numpy import decode, letterbox, per_class_nms  # noqa: E402

MODEL = os.path.join(REPO_ROOT, "models", "detect-fashion")
SPLIT = os.path.join(REPO_ROOT, "data", "detect-fashion", "test.json")


def iou(a, b):
    w = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    i = w * h
    u = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - i
    return i / u if u > 0 else 0


def main():
    binary = sys.argv[1]
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    import onnxruntime as ort

    versions = [int(d) for d in os.listdir(MODEL) if d.isdigit()]
    version_dir = os.path.join(MODEL, str(max(versions)))
    grid = json.load(open(os.path.join(version_dir, "detection.json")))
    split = json.load(open(SPLIT))
    images = [Image.open(os.path.join(os.path.dirname(SPLIT), e["file"])).convert("RGB") for e in split["images"][:200]]
    for im in images:
        im.load()
    blob = onnx_export.export(version_dir)

    def pipeline(sess, batch, pillow=True):
        xs, scales = [], []
        for im in batch:
            x, sx, sy = letterbox(im, grid["input_width"], grid["input_height"], pillow=pillow)
            xs.append(x / 255)
            scales.append((sx, sy, im.width, im.height))
        heads = sess.run(None, {"image": np.stack(xs).astype(np.float32)})[0]
        out = []
        for head, (sx, sy, w, h) in zip(heads, scales):
            boxes, scores, labels = decode(head, grid, 0.25)
            keep = per_class_nms(boxes, scores, labels, 0.45, 100)
            out.append([(int(labels[k]), float(scores[k]), *np.clip(boxes[k] / [sx, sy, sx, sy], 0, [w, h, w, h]).tolist()) for k in keep])
        return out

    proc = subprocess.Popen([binary, "--pipe"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=REPO_ROOT)

    def dlserve(cmd, threads, count):
        proc.stdin.write(f"{cmd} {threads} {count}\n")
        proc.stdin.flush()
        line = proc.stdout.readline()
        if not line or line.startswith("error"):
            sys.exit(f"dlserve-bench --pipe: {line.strip() or 'no answer (is models/detect-fashion and data/detect-fashion there?)'}")
        return [float(v) for v in line.split()]

    # Agreement of the two pipelines' detections on the 200 scenes.
    ours = json.loads(subprocess.run([binary, "--detection-outputs"], capture_output=True, text=True, cwd=REPO_ROOT, check=True).stdout)
    sess1 = ort.InferenceSession(blob, providers=["CPUExecutionProvider"])
    theirs = [pipeline(sess1, [im], pillow=False)[0] for im in images]
    matched = total = 0
    for a, b in zip(ours, theirs):
        total += max(len(a), len(b))
        used = set()
        for d in a:
            for j, e in enumerate(b):
                if j not in used and e[0] == d["label"] and iou((d["x1"], d["y1"], d["x2"], d["y2"]), e[2:]) >= 0.9:
                    used.add(j)
                    matched += 1
                    break
    print(f"detect-fashion ({os.path.basename(version_dir)}) vs onnxruntime {ort.__version__}, same graph, {len(images)} test scenes, "
          f"{rounds} interleaved rounds; detections agreeing: {matched}/{total}")
    print(f"{'pipeline':<22}{'threads':>8}{'dlserve ms':>12}{'ort ms':>10}{'ratio':>8}{'dlserve det/s':>15}{'ort det/s':>11}")
    per_image = sum(len(a) for a in ours) / len(ours)
    for threads in (1, 2):
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        sess = ort.InferenceSession(blob, so, providers=["CPUExecutionProvider"])
        for name, cmd, size, count in (("batch 1 (per image)", "Detect1", 1, 100), ("batch 16 (per batch)", "Detect16", 16, 10)):
            ours_ms, theirs_ms, ratios = [], [], []
            for _ in range(10 // size + 2):
                pipeline(sess, images[:size])
            for r in range(rounds):
                time.sleep(0.05)
                a = dlserve(cmd, threads, count)
                time.sleep(0.05)
                b = []
                for i in range(count):
                    start = (i * size) % (len(images) - size + 1)
                    t = time.perf_counter()
                    pipeline(sess, images[start:start + size])
                    b.append((time.perf_counter() - t) * 1000)
                ours_ms += a
                theirs_ms += b
                ratios.append(np.median(a) / np.median(b))
            om, tm = np.median(ours_ms), np.median(theirs_ms)
            print(f"{name:<22}{threads:>8}{om:>12.3f}{tm:>10.3f}{np.median(ratios):>8.2f}"
                  f"{per_image * size * 1000 / om:>15.0f}{per_image * size * 1000 / tm:>11.0f}")
    proc.stdin.close()
    proc.wait()


if __name__ == "__main__":
    main()
