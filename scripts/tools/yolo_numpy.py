"""The daemon's detection pipeline in NumPy and Pillow, for the peers: letterbox
(top-left, fill 114, Pillow BOX when shrinking and BILINEAR when enlarging, as
DLVision's resize), YOLO head decoding (YOLOGrid.decode) and per-class NMS
with torchvision's rules (stable sort by score, suppress IoU > threshold)."""
import numpy as np
from PIL import Image


def letterbox(img, w, h):
    s = min(w / img.width, h / img.height)
    nw, nh = max(1, min(w, round(img.width * s))), max(1, min(h, round(img.height * s)))
    resample = Image.BOX if (nw < img.width or nh < img.height) else Image.BILINEAR
    small = np.asarray(img.resize((nw, nh), resample), dtype=np.float32)
    out = np.full((3, h, w), 114, dtype=np.float32)
    out[:, :nh, :nw] = small.transpose(2, 0, 1)
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
