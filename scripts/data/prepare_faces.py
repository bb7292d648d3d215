#!/usr/bin/env python3
"""Prepare the face-verification data ("faces") from scikit-image's LFW subset.

Source
    PyPI scikit_image 0.26.0 (the cp311 manylinux wheel, fetched with
    `pip download --no-deps` into --cache; nothing is installed):
    skimage/data/lfw_subset.npy, float64 (200, 25, 25) in [0, 1]. Rows 0..99
    are grey face crops from Labeled Faces in the Wild, rows 100..199 are
    non-faces (not used). The subset carries no names: each face row is taken
    as one identity, named face_XXX after its row (face_007 is row 7). A real
    person who appears in two rows counts as two identities here.

Photos
    An identity's photos are its one face and strong, seeded augmentations of
    it (`augment`, numpy only): horizontal flip (p 0.5); rotation +-15 deg,
    scale 0.9..1.1, shift +-2 px, and (p 0.3) an elastic warp (a random
    displacement field smoothed with a Gaussian of sigma 3 px, peak 0.7..1.3
    px), all applied in one bilinear resampling with edge replication;
    gamma 0.7..1.4, contrast 0.7..1.3 about the mean, brightness +-0.15;
    (p 0.3) an occluder covering 10..25% of the area (a horizontal bar, a
    vertical bar or a rectangle; black or grey 0.3..0.7); (p 0.3) Gaussian
    blur, sigma 0..1; Gaussian noise, sigma 0..0.04; clipped to [0, 1].
    Photo n of an identity is drawn from numpy's Generator seeded with
    [SEED, row, n], so every file is the same on every run and the mini sets
    below are copies of the first photos of the big ones. Photo 1 is the
    unaugmented face. Files are 8-bit grey 25 x 25 PNG (round(255 v)).

Split
    A permutation of the 100 face rows (Generator(SEED)): the first 70 are
    training identities, the last 30 test identities (disjoint).
    train/  70 identities x --train-photos (default 300)
    test/   30 identities x --test-photos (default 40), and test/pairs.txt in
            LFW's format: "10<TAB>300", then for each of 10 folds 300 matched
            lines "name<TAB>n1<TAB>n2" and 300 mismatched lines
            "name1<TAB>n1<TAB>name2<TAB>n2" (1-based photo numbers; the file of
            (name, n) is name/name_%04d.png). Pairs are drawn with
            Generator([SEED, 2]); no pair occurs twice in the file. Every fold
            draws from all 30 test identities: unlike LFW's View 2, the folds
            are NOT identity-disjoint (an identity seen in the nine folds that
            choose the threshold also appears in the held-out fold).
    mini/train/  the first 8 training identities (by name) x 12 photos
    mini/test/   the first 4 test identities (by name) x 10 photos, and
                 mini/test/pairs.txt: "2<TAB>20", 2 folds x (20 matched + 20
                 mismatched), Generator([SEED, 3]). For tests that train and
                 evaluate in seconds.

What it measures
    Whether an embedding maps photographic changes of an unseen face (pose,
    light, blur, noise, occlusion, small warps) close together and different
    faces apart. It is NOT real identity recognition: all photos of an
    identity come from one picture, so no ageing, expression, hairstyle or
    other-day change is involved, and the accuracy is not comparable with
    published LFW figures.
"""
import argparse
import io
import json
import os
import shutil
import sys
import zipfile

import numpy as np
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from prepare_detection_fashion import REPO_ROOT, wheel, write_json  # noqa: E402

SEED = 20260112
SIZE = 25
FACES = 100
TRAIN_IDS = 70
MINI = {"train": (8, 12), "test": (4, 10), "folds": 2, "pairs": 20}
AUG = {"flip_p": 0.5, "rotate_deg": 15, "scale": [0.9, 1.1], "shift_px": 2, "elastic_p": 0.3,
       "elastic_sigma": 3.0, "elastic_px": [0.7, 1.3], "gamma": [0.7, 1.4], "contrast": [0.7, 1.3],
       "brightness": 0.15, "occlude_p": 0.3, "occlude_area": [0.10, 0.25], "blur_p": 0.3, "blur_sigma": 1.0,
       "noise_sigma": 0.04}


def load_faces(cache):
    """The 100 face rows of lfw_subset.npy, float64 [100, 25, 25] in [0, 1]."""
    with zipfile.ZipFile(wheel(cache, "scikit_image")) as z:
        data = np.load(io.BytesIO(z.read("skimage/data/lfw_subset.npy")))
    assert data.shape == (200, SIZE, SIZE), data.shape
    return data[:FACES]


def gaussian_blur(img, sigma):
    """Separable Gaussian blur (kernel radius ceil(3 sigma)) with edge replication."""
    if sigma <= 0:
        return img
    r = max(1, int(np.ceil(3 * sigma)))
    k = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma) ** 2)
    k /= k.sum()
    p = np.pad(img, r, mode="edge")
    p = sum(k[i] * p[i:i + img.shape[0], :] for i in range(2 * r + 1))
    return sum(k[i] * p[:, i:i + img.shape[1]] for i in range(2 * r + 1))


def sample(img, xs, ys):
    """Bilinear sample of img at (xs, ys); coordinates outside are clamped (edge replication)."""
    h, w = img.shape
    xs, ys = np.clip(xs, 0, w - 1), np.clip(ys, 0, h - 1)
    x0, y0 = np.minimum(np.floor(xs).astype(int), w - 2), np.minimum(np.floor(ys).astype(int), h - 2)
    fx, fy = xs - x0, ys - y0
    top = img[y0, x0] * (1 - fx) + img[y0, x0 + 1] * fx
    bottom = img[y0 + 1, x0] * (1 - fx) + img[y0 + 1, x0 + 1] * fx
    return top * (1 - fy) + bottom * fy


def augment(face, rng, a=AUG):
    """One strongly augmented photo of `face` (float [H, W] in [0, 1]) -> float [H, W] in [0, 1]."""
    h, w = face.shape
    img = face[:, ::-1] if rng.random() < a["flip_p"] else face
    # Geometry: output pixel -> source pixel (inverse similarity transform about the centre, plus a warp).
    angle = np.deg2rad(rng.uniform(-a["rotate_deg"], a["rotate_deg"]))
    scale = rng.uniform(*a["scale"])
    shift = rng.uniform(-a["shift_px"], a["shift_px"], size=2)
    cy, cx = (h - 1) / 2, (w - 1) / 2
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    u, v = xx - cx - shift[0], yy - cy - shift[1]
    cos, sin = np.cos(angle) / scale, np.sin(angle) / scale
    xs, ys = cx + cos * u + sin * v, cy - sin * u + cos * v
    if rng.random() < a["elastic_p"]:
        field = np.stack([gaussian_blur(rng.normal(size=(h, w)), a["elastic_sigma"]) for _ in range(2)])
        field *= rng.uniform(*a["elastic_px"]) / np.abs(field).max()
        xs, ys = xs + field[0], ys + field[1]
    img = sample(img, xs, ys)
    # Light: gamma, contrast about the mean, brightness.
    img = np.clip(img, 0, 1) ** rng.uniform(*a["gamma"])
    img = (img - img.mean()) * rng.uniform(*a["contrast"]) + img.mean()
    img = np.clip(img + rng.uniform(-a["brightness"], a["brightness"]), 0, 1)
    if rng.random() < a["occlude_p"]:
        area = rng.uniform(*a["occlude_area"]) * h * w
        kind = rng.integers(3)
        if kind == 0:  # horizontal bar
            bh, bw = max(1, round(area / w)), w
        elif kind == 1:  # vertical bar
            bh, bw = h, max(1, round(area / h))
        else:  # rectangle, aspect 0.5..2
            aspect = rng.uniform(0.5, 2)
            bw = min(w, max(1, round(np.sqrt(area * aspect))))
            bh = min(h, max(1, round(area / bw)))
        y, x = rng.integers(0, h - bh + 1), rng.integers(0, w - bw + 1)
        img = img.copy()
        img[y:y + bh, x:x + bw] = 0.0 if rng.random() < 0.5 else rng.uniform(0.3, 0.7)
    if rng.random() < a["blur_p"]:
        img = gaussian_blur(img, rng.uniform(0, a["blur_sigma"]))
    img = img + rng.normal(size=img.shape) * rng.uniform(0, a["noise_sigma"])
    return np.clip(img, 0, 1)


def photo(face, row, n):
    """Photo n (1-based) of the identity in lfw_subset row `row`, as uint8 [25, 25]."""
    img = face if n == 1 else augment(face, np.random.default_rng([SEED, row, n]))
    return np.rint(img * 255).astype(np.uint8)


def make_pairs(rng, photos, folds, per_fold):
    """LFW-style folds over {name: photo count}: per fold `per_fold` matched
    (name, n1, n2) with n1 < n2, then `per_fold` mismatched (name1, n1, name2, n2)
    with name1 < name2; 1-based photo numbers, no pair twice."""
    names = sorted(photos)
    seen, out = set(), []
    for _ in range(folds):
        matched, mismatched = [], []
        while len(matched) < per_fold:
            name = names[rng.integers(len(names))]
            n1, n2 = sorted(int(n) + 1 for n in rng.choice(photos[name], size=2, replace=False))
            if (name, n1, n2) not in seen:
                seen.add((name, n1, n2))
                matched.append((name, n1, n2))
        while len(mismatched) < per_fold:
            i, j = sorted(rng.choice(len(names), size=2, replace=False))
            pair = (names[i], int(rng.integers(photos[names[i]])) + 1, names[j], int(rng.integers(photos[names[j]])) + 1)
            if pair not in seen:
                seen.add(pair)
                mismatched.append(pair)
        out += matched + mismatched
    return out


def write_pairs(path, pairs, folds, per_fold):
    with open(path, "w") as fh:
        fh.write(f"{folds}\t{per_fold}\n")
        fh.writelines("\t".join(str(v) for v in p) + "\n" for p in pairs)


def write_split(out, faces, rows, photos):
    for row in rows:
        name = f"face_{row:03d}"
        os.makedirs(os.path.join(out, name), exist_ok=True)
        for n in range(1, photos + 1):
            Image.fromarray(photo(faces[row], row, n)).save(os.path.join(out, name, f"{name}_{n:04d}.png"))
    return {f"face_{row:03d}": photos for row in rows}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.join(REPO_ROOT, "data", "faces"))
    ap.add_argument("--cache", default=os.path.join(REPO_ROOT, "data", "wheels"))
    ap.add_argument("--train-photos", type=int, default=300)
    ap.add_argument("--test-photos", type=int, default=40)
    ap.add_argument("--force", action="store_true", help="remake the files even when they exist with the same parameters")
    args = ap.parse_args()
    params = {"seed": SEED, "train_photos": args.train_photos, "test_photos": args.test_photos,
              "train_ids": TRAIN_IDS, "mini": MINI, "augment": AUG}
    params = json.loads(json.dumps(params))  # tuples -> lists, as read back
    stamp = os.path.join(args.out, "params.json")
    if not args.force and os.path.exists(stamp) and json.load(open(stamp)) == params:
        print(f"{args.out}: up to date (--force remakes it)", file=sys.stderr)
        return
    if min(args.train_photos, args.test_photos) < max(MINI["train"][1], MINI["test"][1]):
        sys.exit("error: --train-photos and --test-photos must be at least 12")
    faces = load_faces(args.cache)
    perm = np.random.default_rng(SEED).permutation(FACES)
    train_rows, test_rows = sorted(perm[:TRAIN_IDS]), sorted(perm[TRAIN_IDS:])
    if os.path.exists(stamp):
        os.remove(stamp)
    for d in ("train", "test", "mini"):
        shutil.rmtree(os.path.join(args.out, d), ignore_errors=True)
    out = lambda *p: os.path.join(args.out, *p)  # noqa: E731
    write_split(out("train"), faces, train_rows, args.train_photos)
    test = write_split(out("test"), faces, test_rows, args.test_photos)
    write_pairs(out("test", "pairs.txt"), make_pairs(np.random.default_rng([SEED, 2]), test, 10, 300), 10, 300)
    (mtrain, mtrain_photos), (mtest, mtest_photos) = MINI["train"], MINI["test"]
    write_split(out("mini", "train"), faces, train_rows[:mtrain], mtrain_photos)
    mini = write_split(out("mini", "test"), faces, test_rows[:mtest], mtest_photos)
    write_pairs(out("mini", "test", "pairs.txt"), make_pairs(np.random.default_rng([SEED, 3]), mini, MINI["folds"], MINI["pairs"]),
                MINI["folds"], MINI["pairs"])
    names = lambda rows: " ".join(f"face_{r:03d}" for r in rows)  # noqa: E731
    summary = (f"seed {SEED}\n"
               f"train: {len(train_rows)} identities x {args.train_photos} photos: {names(train_rows)}\n"
               f"test: {len(test_rows)} identities x {args.test_photos} photos, 10 folds x (300 + 300) pairs: {names(test_rows)}\n"
               f"mini/train: {mtrain} x {mtrain_photos}: {names(train_rows[:mtrain])}\n"
               f"mini/test: {mtest} x {mtest_photos}, {MINI['folds']} folds x ({MINI['pairs']} + {MINI['pairs']}) pairs: "
               f"{names(test_rows[:mtest])}\n")
    with open(out("SOURCE.txt"), "w") as fh:
        fh.write(__doc__.strip() + "\n\n" + summary)
    write_json(stamp, params)
    print(summary, end="", file=sys.stderr)
    print(f"wrote {args.out}: train/, test/ (pairs.txt), mini/train/, mini/test/ (pairs.txt), SOURCE.txt, params.json",
          file=sys.stderr)


if __name__ == "__main__":
    main()
