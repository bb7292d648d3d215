#!/usr/bin/env python3
"""A shipped detection model on its test split, beside an independent check in the same run.

`dlserve eval` runs the model on every test image (letterbox, network, decode,
per-class NMS at IoU 0.5, scores >= 0.01) and scores VOC mAP@0.5 (all-point),
COCO mAP@[.5:.95] and box precision / recall at IoU 0.4 (scores >= 0.25) with
its own code; also on the first --slice images (the slice `make test` holds
the model to). The check: the same graph exported to ONNX (scripts/tools/
onnx_export.py) run by onnxruntime on the same letterboxed inputs (Pillow's
BOX / BILINEAR resize, top-left, fill 114), decoded and suppressed here in
NumPy (torchvision's NMS rules) and scored by pycocotools' COCOeval. The two
must agree within --tolerance mAP (inference numerics and resize rounding
only). For the trees model, DeepForest's published figures for its own
pretrained model are quoted (a different, larger test set). With
--write-metrics the results go into the version's metrics.json ("test"),
atomically.

Usage
    python3 scripts/eval/detection.py [--model models/detect-fashion] [--version N]
        [--data data/detect-fashion/test.json] [--slice 200] [--write-metrics]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
from PIL import Image

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO_ROOT, "scripts", "tools"))
import onnx_export  # noqa: E402
from yolo_numpy import decode, letterbox, per_class_nms  # noqa: E402

# DeepForest's own evaluation of its pretrained release model on the NEON tree
# benchmark (Weinstein et al.; deepforest documentation, "Evaluation"): box
# precision and recall at IoU 0.4.
DEEPFOREST_PUBLISHED = {"source": "DeepForest pretrained model on the NEON benchmark (its documentation); "
                                  "a different, larger test set than ours", "precision_iou40": 0.66, "recall_iou40": 0.79}


def latest_version(model_dir):
    versions = [int(d) for d in os.listdir(model_dir) if d.isdigit() and os.path.exists(os.path.join(model_dir, d, "model.json"))]
    if not versions:
        sys.exit(f"error: no version with model.json under {model_dir}")
    return max(versions)


def onnx_check(version_dir, split_path, limit):
    import onnxruntime as ort
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    grid = json.load(open(os.path.join(version_dir, "detection.json")))
    split = json.load(open(split_path))
    images = split["images"][:limit] if limit else split["images"]
    session = ort.InferenceSession(onnx_export.export(version_dir), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    gt = {"images": [], "annotations": [], "categories": [{"id": i} for i in range(len(split["classes"]))]}
    dets = []
    start = time.perf_counter()
    base = os.path.dirname(split_path)
    for i, e in enumerate(images):
        img = Image.open(os.path.join(base, e["file"])).convert("RGB")
        x, sx, sy = letterbox(img, grid["input_width"], grid["input_height"])
        head = session.run(None, {name: (x / 255)[None].astype(np.float32)})[0][0]
        boxes, scores, labels = decode(head, grid, 0.01)
        gt["images"].append({"id": i, "width": e["width"], "height": e["height"]})
        for o in e["objects"]:
            x1, y1, x2, y2 = o["box"]
            gt["annotations"].append({"id": len(gt["annotations"]) + 1, "image_id": i, "category_id": o["label"],
                                      "bbox": [x1, y1, x2 - x1, y2 - y1], "area": (x2 - x1) * (y2 - y1), "iscrowd": 0})
        for k in per_class_nms(boxes, scores, labels, 0.5, 100):
            b = boxes[k] / np.array([sx, sy, sx, sy])
            b = np.clip(b, 0, [e["width"], e["height"], e["width"], e["height"]])
            dets.append({"image_id": i, "category_id": int(labels[k]), "score": float(scores[k]),
                         "bbox": [float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1])]})
    seconds = time.perf_counter() - start
    coco = COCO()
    coco.dataset = gt
    coco.createIndex()
    ev = COCOeval(coco, coco.loadRes(dets) if dets else COCO(), "bbox")
    ev.evaluate()
    ev.accumulate()
    ev.summarize()
    return {"system": f"onnxruntime {ort.__version__} + NumPy NMS + pycocotools COCOeval", "images": len(images),
            "coco_map": round(float(ev.stats[0]), 4), "coco_ap50": round(float(ev.stats[1]), 4),
            "images_per_second": round(len(images) / seconds, 1)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default=os.path.join(REPO_ROOT, "models", "detect-fashion"))
    ap.add_argument("--version", type=int)
    ap.add_argument("--data", default=None, help="the test split's JSON (default data/MODEL/test.json)")
    ap.add_argument("--bin", default=os.environ.get("DLSERVE_BIN", os.path.join(REPO_ROOT, ".build", "release", "dlserve")))
    ap.add_argument("--slice", type=int, default=200, help="also score the first N images (0: no slice)")
    ap.add_argument("--tolerance", type=float, default=0.01)
    ap.add_argument("--write-metrics", action="store_true")
    args = ap.parse_args()

    model = os.path.basename(os.path.normpath(args.model))
    version = args.version or latest_version(args.model)
    version_dir = os.path.join(args.model, str(version))
    data = args.data or os.path.join(REPO_ROOT, "data", model, "test.json")

    def dlserve_eval(limit):
        cmd = [args.bin, "eval", "--model", args.model, "--version", str(version), "--data", data]
        if limit:
            cmd += ["--limit", str(limit)]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            sys.exit(f"error: {' '.join(cmd)}: {proc.stderr.strip()}")
        return json.loads(proc.stdout)

    def rounded(r):
        keys = ["images", "objects", "map50", "coco_map", "coco_ap50", "coco_ap75", "precision_iou40", "recall_iou40", "images_per_second"]
        return {k: (round(r[k], 4) if isinstance(r[k], float) else r[k]) for k in keys if k in r}

    whole = dlserve_eval(0)
    ours = rounded(whole)
    ours["per_class_ap50"] = {k: round(v, 4) for k, v in whole["per_class_ap50"].items()}
    check = onnx_check(version_dir, data, 0)
    if abs(check["coco_map"] - ours["coco_map"]) > args.tolerance:
        sys.exit(f"error: dlserve's COCO mAP {ours['coco_map']} and onnxruntime + pycocotools' {check['coco_map']} "
                 f"differ by more than {args.tolerance}")
    result = {"data": os.path.relpath(data, REPO_ROOT), "dlserve": ours, "onnxruntime_pycocotools": check}
    if args.slice:
        result["slice"] = dict(rounded(dlserve_eval(args.slice)), first_images=args.slice)
    if model == "detect-trees":
        result["deepforest_published"] = DEEPFOREST_PUBLISHED
    print(json.dumps(result, indent=1))

    if args.write_metrics:
        path = os.path.join(version_dir, "metrics.json")
        metrics = json.load(open(path))
        metrics["test"] = result
        fd, tmp = tempfile.mkstemp(dir=version_dir, suffix=".tmp")
        with os.fdopen(fd, "w") as fh:
            json.dump(metrics, fh, indent=2, sort_keys=True)
            fh.write("\n")
        os.replace(tmp, path)
        print(f"wrote {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
