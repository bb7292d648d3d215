"""The daemon's detection pipeline in NumPy, for the peers: letterbox
(top-left, fill 114, DLVision's area / bilinear resampling as matrices), YOLO head decoding (YOLOGrid.decode) and per-class NMS
with torchvision's rules (stable sort by score, suppress IoU > threshold)."""
import numpy as np
from PIL import Image


def resize_matrix(n_in, n_out):
    """DLVision's resampling of one axis as an [n_out, n_in] matrix (Resize.swift,
    method auto): area averaging when the axis shrinks (output pixel i covers
    [i*s, (i+1)*s), s = n_in / n_out), else bilinear with half-pixel centres
    and edge clamping."""
    m = np.zeros((n_out, n_in))
    s = n_in / n_out
    for i in range(n_out):
        if n_out < n_in:
            lo, hi = i * s, (i + 1) * s
            for j in range(int(np.floor(lo)), min(n_in - 1, int(np.floor(hi - 1e-9))) + 1):
                m[i, j] = max(0.0, min(hi, j + 1) - max(lo, j)) / s
        else:
            src = min(max((i + 0.5) * s - 0.5, 0), n_in - 1)
            j0 = int(np.floor(src))
            frac = src - j0
            if j0 + 1 < n_in and frac > 0:
                m[i, j0], m[i, j0 + 1] = 1 - frac, frac
            else:
                m[i, j0] = 1
    return m


def letterbox(img, w, h, pillow=False):
    """DLVision's Letterbox: scale s = min(w / W, h / H) (up or down), the
    resized image at the top-left of a w x h canvas filled with 114; CHW floats
    0..255 and the scale on each axis. With `pillow`, the resize is Pillow's
    BOX (shrinking) or BILINEAR (enlarging) in C, as a Python serving stack
    would do it: faster, and within rounding of DLVision's."""
    s = min(w / img.width, h / img.height)
    nw, nh = max(1, min(w, round(img.width * s))), max(1, min(h, round(img.height * s)))
    if pillow:
        resample = Image.BOX if nw < img.width else Image.BILINEAR
        pixels = np.asarray(img.resize((nw, nh), resample) if (nw, nh) != (img.width, img.height) else img, dtype=np.float32)
    else:
        pixels = np.asarray(img, dtype=np.float64)
    if not pillow and (nw, nh) != (img.width, img.height):
        ry, rx = resize_matrix(img.height, nh), resize_matrix(img.width, nw)
        tall = (ry @ pixels.reshape(img.height, -1)).reshape(nh, img.width, 3)
        pixels = np.matmul(rx, tall)  # [nh, nw, 3]: rx [nw, W] times each row's [W, 3]
    out = np.full((3, h, w), 114, dtype=np.float32)
    out[:, :nh, :nw] = pixels.transpose(2, 0, 1)
    return out, nw / img.width, nh / img.height


def decode(head, grid, min_score):
    a = len(grid["anchors"])
    c = grid["classes"]
    s = grid["stride"]
    _, gh, gw = head.shape
    head = head.reshape(a, 5 + c, gh, gw)
    sig = lambda z: 1 / (1 + np.exp(-z))
    boxes, scores, labels = [], [], []
    ys, xs = np.mgrid[0:gh, 0:gw]
    for k, anchor in enumerate(grid["anchors"]):
        t = head[k].astype(np.float64)
        obj = sig(t[4])
        logits = t[5:]
        probs = np.exp(logits - logits.max(0))
        probs /= probs.sum(0)
        label = probs.argmax(0)
        score = obj * probs.max(0)
        cx, cy = (xs + sig(t[0])) * s, (ys + sig(t[1])) * s
        bw, bh = anchor["width"] * np.exp(t[2]), anchor["height"] * np.exp(t[3])
        keep = score >= min_score
        boxes.append(np.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], -1)[keep])
        scores.append(score[keep])
        labels.append(label[keep])
    return np.concatenate(boxes), np.concatenate(scores), np.concatenate(labels)


def nms(boxes, scores, iou):
    """torchvision's CPU kernel: stable sort by score, suppress IoU > threshold."""
    order = np.argsort(-scores, kind="stable")
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    keep, dead = [], np.zeros(len(boxes), bool)
    for i in order:
        if dead[i]:
            continue
        keep.append(i)
        xx1, yy1 = np.maximum(boxes[i, 0], boxes[:, 0]), np.maximum(boxes[i, 1], boxes[:, 1])
        xx2, yy2 = np.minimum(boxes[i, 2], boxes[:, 2]), np.minimum(boxes[i, 3], boxes[:, 3])
        inter = np.clip(xx2 - xx1, 0, None) * np.clip(yy2 - yy1, 0, None)
        dead |= inter / np.maximum(area[i] + area - inter, 1e-12) > iou
    return keep


def per_class_nms(boxes, scores, labels, iou, cap):
    """Indices kept by per-class NMS, best score first, at most `cap`."""
    kept = []
    for c in np.unique(labels):
        idx = np.nonzero(labels == c)[0]
        kept += [idx[k] for k in nms(boxes[idx], scores[idx], iou)]
    return sorted(kept, key=lambda k: -scores[k])[:cap]
