#!/usr/bin/env python3
"""Prepare the tree-crown detection data ("detect-trees") from the deepforest wheel.

Source
    PyPI deepforest 2.1.0 (fetched with `pip download --no-deps` into --cache;
    nothing is installed): deepforest/data/ holds NEON aerial RGB photos
    (10 cm per pixel) with Pascal VOC XML boxes of tree crowns:
        2019_YELL_2_528000_4978000_image_crop2   2299 x 2472, 574 crowns   (train, dev)
        2019_YELL_2_541000_4977000_image_crop    1249 x 1035, 279 crowns   (train)
        OSBS_029                                  400 x 400,   61 crowns   (test)
        SOAP_061                                  400 x 400,   37 crowns   (test; "Alive"/"Dead" both count as Tree)

Splits
    train.json  tiles of TILE x TILE pixels every STEP pixels (the last tile
                flush with the edge) of the two YELL photos, except the
                bottom DEV_ROWS rows of the large one; then, last, the dev
                tiles of that bottom strip (the recipe holds out the last
                `dev_images` entries: set it to the number printed). A crown
                cut by a tile edge is kept, clipped, when at least MIN_VISIBLE
                of its area is inside, and dropped otherwise.
    test.json   the two test photos whole (they are 400 x 400, DeepForest's patch size).
    Boxes are [x1, y1, x2, y2] in pixels, x2/y2 exclusive (VOC's xmax/ymax
    taken as exclusive, as DeepForest reads them).

Outputs (in --out, default data/detect-trees)
    tiles/*.png, test/*.png, train.json, test.json, classes.txt, SOURCE.txt

Usage
    python3 scripts/data/prepare_detection_trees.py [--out DIR] [--cache DIR] [--force]
"""
import argparse
import io
import os
import sys
import xml.etree.ElementTree as ET
import zipfile

from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from prepare_detection_fashion import REPO_ROOT, wheel, write_json  # noqa: E402

TILE = 400
STEP = 200
DEV_ROWS = 400
MIN_VISIBLE = 0.4
CLASSES = ["Tree"]
TRAIN = ["2019_YELL_2_528000_4978000_image_crop2", "2019_YELL_2_541000_4977000_image_crop"]
TEST = ["OSBS_029", "SOAP_061"]


def read(z, name):
    image = Image.open(io.BytesIO(z.read(f"deepforest/data/{name}.png"))).convert("RGB")
    root = ET.fromstring(z.read(f"deepforest/data/{name}.xml"))
    boxes = []
    for o in root.findall("object"):
        b = o.find("bndbox")
        boxes.append([int(float(b.find(k).text)) for k in ("xmin", "ymin", "xmax", "ymax")])
    return image, boxes


def starts(length):
    if length <= TILE:
        return [0]
    s = list(range(0, length - TILE, STEP))
    return s + [length - TILE]


def tile_objects(boxes, x, y, w, h):
    objects = []
    for x1, y1, x2, y2 in boxes:
        cx1, cy1, cx2, cy2 = max(x1, x), max(y1, y), min(x2, x + w), min(y2, y + h)
        if cx2 <= cx1 or cy2 <= cy1:
            continue
        if (cx2 - cx1) * (cy2 - cy1) < MIN_VISIBLE * (x2 - x1) * (y2 - y1):
            continue
        objects.append({"label": 0, "box": [cx1 - x, cy1 - y, cx2 - x, cy2 - y]})
    return objects


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.join(REPO_ROOT, "data", "detect-trees"))
    ap.add_argument("--cache", default=os.path.join(REPO_ROOT, "data", "wheels"))
    ap.add_argument("--force", action="store_true", help="remake the files even when train.json and test.json exist")
    args = ap.parse_args()
    if not args.force and all(os.path.exists(os.path.join(args.out, f)) for f in ("train.json", "test.json")):
        print(f"{args.out}: up to date (--force remakes it)", file=sys.stderr)
        return
    for d in ("tiles", "test"):
        os.makedirs(os.path.join(args.out, d), exist_ok=True)
    train, dev, test = [], [], []
    with zipfile.ZipFile(wheel(args.cache, "deepforest")) as z:
        for n, name in enumerate(TRAIN):
            image, boxes = read(z, name)
            width, height = image.size
            # The large photo's bottom strip is the dev region.
            train_height = height - DEV_ROWS if n == 0 else height
            regions = [(train, 0, train_height)] + ([(dev, train_height, height)] if n == 0 else [])
            for out, top, bottom in regions:
                for ty in starts(bottom - top):
                    for tx in starts(width):
                        x, y = tx, top + ty
                        w, h = min(TILE, width - x), min(TILE, bottom - y)
                        objects = tile_objects(boxes, x, y, w, h)
                        file = f"tiles/{name}_{x}_{y}.png"
                        image.crop((x, y, x + w, y + h)).save(os.path.join(args.out, file))
                        out.append({"file": file, "width": w, "height": h, "objects": objects})
        for name in TEST:
            image, boxes = read(z, name)
            file = f"test/{name}.png"
            image.save(os.path.join(args.out, file))
            test.append({"file": file, "width": image.size[0], "height": image.size[1],
                         "objects": [{"label": 0, "box": b} for b in boxes]})
    write_json(os.path.join(args.out, "train.json"), {"classes": CLASSES, "images": train + dev})
    write_json(os.path.join(args.out, "test.json"), {"classes": CLASSES, "images": test})
    with open(os.path.join(args.out, "classes.txt"), "w") as fh:
        fh.write("\n".join(CLASSES) + "\n")
    summary = (f"train: {len(train)} tiles, {sum(len(e['objects']) for e in train)} crowns\n"
               f"dev (last entries of train.json): {len(dev)} tiles, {sum(len(e['objects']) for e in dev)} crowns\n"
               f"test: {len(test)} photos, {sum(len(e['objects']) for e in test)} crowns\n")
    with open(os.path.join(args.out, "SOURCE.txt"), "w") as fh:
        fh.write(__doc__.split("Usage")[0].strip() + "\n\n" + summary)
    print(summary, end="", file=sys.stderr)


if __name__ == "__main__":
    main()
