"""The daemon's face-photo pipeline in NumPy, for the peers: the photo order of
an LFW-layout folder (FaceSet.load) and the embedding model's preprocessing
(ImagePreprocessing with the recipe's input section: grey, DLVision's resize,
scale, per-channel normalisation)."""
import os
import sys

import numpy as np
from PIL import Image

from yolo_numpy import resize_matrix

EXTENSIONS = (".png", ".jpg", ".jpeg")


def identities(root):
    """The person folders of an LFW-layout directory, sorted by name (as FaceSet.load)."""
    return sorted(d for d in os.listdir(root) if not d.startswith(".") and os.path.isdir(os.path.join(root, d)))


def photos_of(root, person):
    """A person's photo files (.png / .jpg / .jpeg), sorted by name."""
    return sorted(f for f in os.listdir(os.path.join(root, person)) if f.lower().endswith(EXTENSIONS))


def photo_list(root, limit=None):
    """Every photo as "person/file" in FaceSet's order (folders by name, then files by name), the first `limit`."""
    out = []
    for person in identities(root):
        out += [f"{person}/{f}" for f in photos_of(root, person)]
        if limit is not None and len(out) >= limit:
            break
    return out[:limit]


class Preprocessing:
    """A recipe's (or config.json's) input section for a grey [1, H, W] input:
    v * scale, then (v - mean) / std, after the resize."""

    def __init__(self, recipe):
        inp = recipe["input"]
        self.channels, self.height, self.width = inp["shape"]
        p = inp.get("preprocessing", {})
        if self.channels != 1 or p.get("invert") or p.get("resize", "auto") != "auto":
            sys.exit(f"error: only grey inputs with the auto resize are reproduced here (input: {inp})")
        self.scale = float(p.get("scale", 1 / 255))
        self.mean, self.std = float(p.get("mean", [0])[0]), float(p.get("std", [1])[0])

    def exact(self, img):
        """DLVision's pipeline in float64 -> [1, H, W]: Resize.swift's separable resampling
        (method auto: bilinear with half-pixel centres and edge clamping when an axis grows,
        area averaging when it shrinks), then scale and normalise."""
        x = np.asarray(img.convert("L"), dtype=np.float64)
        if x.shape != (self.height, self.width):
            x = resize_matrix(x.shape[0], self.height) @ x @ resize_matrix(x.shape[1], self.width).T
        return ((x * self.scale - self.mean) / self.std)[None]

    def pillow(self, img):
        """A Python serving stack's pipeline -> float32 [1, H, W]: Pillow's resize in C (BOX
        shrinking, BILINEAR enlarging; 8-bit, so within rounding of `exact`), NumPy arithmetic.
        `img` is already grey ("L")."""
        if img.size != (self.width, self.height):
            img = img.resize((self.width, self.height), Image.BOX if self.width < img.width else Image.BILINEAR)
        x = np.asarray(img, dtype=np.float32)
        return ((x * np.float32(self.scale) - np.float32(self.mean)) / np.float32(self.std))[None]
