#!/usr/bin/env python3
"""The PyTorch peer of the face embedding: recipes/face-embed.json's network,
data and training method in PyTorch, scored with the same 10-fold protocol.

Network
    Built from the recipe's model layers, in order: conv2d (nn.Conv2d with the
    recipe's kernel_size / stride / padding / bias), batch_norm (eps 1e-5,
    momentum 0.1 unless the recipe says otherwise), relu, max_pool2d,
    global_avg_pool (the mean over H, W), flatten, dense (nn.Linear), dropout
    and l2_normalize (F.normalize, eps 1e-12). Weights start as dlserve's do:
    He normal, N(0, 2 / fan_in), for conv and dense kernels; biases 0;
    batch-norm gamma 1, beta 0. The state_dict names are the recipe's layer
    names, so `--save` writes a dlserve version directory.

Data
    data.dir/data.train (data/faces/train), one folder per person; the last
    data.dev_identities people by name (10) are held out, as `dlserve train`
    holds them out; their photos give data.dev_pairs matched + mismatched
    pairs (prepare_faces.make_pairs, seeded), scored after every epoch and
    choosing the reported dev tau. Photos are preprocessed as the daemon does
    (scripts/tools/face_numpy.py: grey, DLVision's resize 25 -> 32 in
    float64, * 1/255, (v - 0.5) / 0.25).

Training (FaceTrainer's method; its random streams are not reproduced)
    epochs x steps_per_epoch steps. Each step: P = batch.identities people
    without replacement, K = batch.images photos each (without replacement
    while a person has enough); each photo flipped (p augmentation.flip) and
    shifted by dx, dy uniform in -shift..shift with edge replication, on the
    preprocessed 32 x 32 input. Forward in training mode; triplets mined in
    the batch on squared distances (objective.mining: semi_hard, per
    positive pair (a, p) the nearest negative with D_an > D_ap, else the
    farthest negative; batch_hard, per anchor its farthest positive and
    nearest negative); loss = mean over the triplets of
    max(D_ap - D_an + alpha, 0), as scripts/fixtures/face_fixtures.py
    defines it. Adam (0.9, 0.999, eps 1e-8, no weight decay) at
    optimizer.lr with a linear warm-up over warmup_steps and cosine decay to
    0 at the last step (lr of update s, 1-based: lr * s / warmup while
    s <= warmup, then lr * (1 + cos(pi * (s - warmup) / (total - warmup))) / 2),
    gradients clipped to a global norm of optimizer.clip_norm.
    torch.set_num_threads(THREADS) (2), seeded (torch and NumPy).

Scores
    data/faces/test/pairs.txt with scripts/eval/faces.py's protocol (tau
    chosen on nine folds, accuracy on the tenth; mean and population std),
    the ROC AUC over all pairs, squared Euclidean distances of the eval-mode
    embeddings; and the training minutes (wall clock, dev scoring included).
    --write-metrics merges them as peers.pytorch_same_recipe into the latest
    models/face-embed version's metrics.json (atomically); only a run with
    the recipe's own epochs and steps may be written.

Usage
    python3 scripts/baselines/faces_torch.py [--recipe recipes/face-embed.json] [--test data/faces/test]
        [--epochs E] [--steps S] [--threads 2] [--seed N] [--save DIR] [--write-metrics [--model models/face-embed]]
    smoke run: python3 scripts/baselines/faces_torch.py --steps 20 --epochs 1
"""
import argparse
import json
import math
import os
import sys
import tempfile
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
for sub in ("tools", "bench"):
    sys.path.insert(0, os.path.join(REPO_ROOT, "scripts", sub))
from face_numpy import Preprocessing, identities, photos_of  # noqa: E402
from weights import write_raw  # noqa: E402


def _eval_faces():
    """scripts/eval/faces.py (the protocol), loaded by path: scripts/bench has a faces.py too."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("eval_faces", os.path.join(REPO_ROOT, "scripts", "eval", "faces.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


protocol = _eval_faces()
best_threshold, latest_version, photo_path = protocol.best_threshold, protocol.latest_version, protocol.photo_path
read_pairs, roc_auc, shown, verification_accuracy = protocol.read_pairs, protocol.roc_auc, protocol.shown, protocol.verification_accuracy
make_pairs = protocol.make_pairs  # scripts/data/prepare_faces.py's


class RecipeNet(nn.Module):
    """The recipe's model.json layers as PyTorch modules, run in their order."""

    def __init__(self, spec):
        super().__init__()
        inp = spec["inputs"][0] if "inputs" in spec else {"name": "input", "shape": spec["input_shape"]}
        self.input_name = inp["name"]
        self.output = spec["outputs"][0] if "outputs" in spec else spec.get("output", spec["layers"][-1]["name"])
        self.plan = []  # (name, type, input, attrs)
        shapes = {inp["name"]: list(inp["shape"])}
        for layer in spec["layers"]:
            kind, name, a, x = layer["type"], layer["name"], layer.get("attrs", {}), layer["inputs"][0]
            if len(layer["inputs"]) != 1:
                sys.exit(f"error: {name}: only single-input layers are built here")
            s = shapes[x]
            if kind == "conv2d":
                k, stride, pad = a["kernel_size"], a.get("stride", 1), a.get("padding", 0)
                if isinstance(pad, str):
                    sys.exit(f"error: {name}: padding '{pad}' is not built here")
                conv = nn.Conv2d(s[0], a["out_channels"], k, stride=stride, padding=pad, bias=a.get("bias", True))
                self.add_module(name, conv)
                k2, s2, p2 = [v if isinstance(v, list) else [v, v] for v in (k, stride, pad)]
                shapes[name] = [a["out_channels"]] + [(s[i + 1] + 2 * p2[i] - k2[i]) // s2[i] + 1 for i in range(2)]
            elif kind == "batch_norm":
                bn = (nn.BatchNorm2d if len(s) == 3 else nn.BatchNorm1d)(s[0], eps=a.get("eps", 1e-5), momentum=a.get("momentum", 0.1))
                self.add_module(name, bn)
                shapes[name] = s
            elif kind in ("max_pool2d", "avg_pool2d"):
                k = a["kernel_size"]
                st = a.get("stride", k)
                self.add_module(name, (nn.MaxPool2d if kind == "max_pool2d" else nn.AvgPool2d)(k, st))
                k2, s2 = [v if isinstance(v, list) else [v, v] for v in (k, st)]
                shapes[name] = [s[0]] + [(s[i + 1] - k2[i]) // s2[i] + 1 for i in range(2)]
            elif kind == "dense":
                if len(s) != 1:
                    sys.exit(f"error: {name}: dense needs a flat input, got {s}")
                self.add_module(name, nn.Linear(s[0], a["units"], bias=a.get("bias", True)))
                shapes[name] = [a["units"]]
            elif kind == "dropout":
                self.add_module(name, nn.Dropout(a.get("rate", a.get("p", 0.5))))
                shapes[name] = s
            elif kind in ("global_avg_pool", "flatten"):
                shapes[name] = [s[0]] if kind == "global_avg_pool" else [int(np.prod(s))]
            elif kind in ("relu", "l2_normalize"):
                shapes[name] = s
            else:
                sys.exit(f"error: layer type '{kind}' ({name}) is not built here")
            self.plan.append((name, kind, x, a))
        self.output_shape = shapes[self.output]
        for m in self.modules():  # dlserve's initialisation: He normal kernels, zero biases
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def forward(self, x):
        values = {self.input_name: x}
        for name, kind, src, a in self.plan:
            v = values[src]
            if kind == "relu":
                v = F.relu(v)
            elif kind == "global_avg_pool":
                v = v.mean((2, 3))
            elif kind == "flatten":
                v = v.flatten(1)
            elif kind == "l2_normalize":
                v = F.normalize(v, dim=-1, eps=a.get("eps", 1e-12))
            else:
                v = getattr(self, name)(v)
            values[name] = v
        return values[self.output]


def mine(e, labels, mining):
    """(anchors, positives, negatives) index tensors on squared distances, as DLNN's MinedTriplets.mine."""
    with torch.no_grad():
        d = ((e[:, None, :] - e[None, :, :]) ** 2).sum(-1)
    same = labels[:, None] == labels[None, :]
    eye = torch.eye(len(labels), dtype=torch.bool)
    pos, neg = same & ~eye, ~same
    inf = torch.tensor(float("inf"))
    if mining == "batch_hard":
        keep = pos.any(1) & neg.any(1)
        a = torch.nonzero(keep).flatten()
        p = torch.where(pos, d, -inf).argmax(1)[a]
        n = torch.where(neg, d, inf).argmin(1)[a]
        return a, p, n
    a, p = torch.nonzero(pos & neg.any(1, keepdim=True), as_tuple=True)
    dan, dap = d[a], d[a, p][:, None]  # [T, N], [T, 1]
    farther = neg[a] & (dan > dap)
    semi = torch.where(farther, dan, inf).argmin(1)
    hardest_far = torch.where(neg[a], dan, -inf).argmax(1)
    n = torch.where(farther.any(1), semi, hardest_far)
    return a, p, n


def triplet_loss(e, labels, alpha, mining):
    a, p, n = mine(e, labels, mining)
    if len(a) == 0:
        return e.sum() * 0, 0.0
    margin = (e[a] - e[p]).pow(2).sum(1) - (e[a] - e[n]).pow(2).sum(1) + alpha
    return F.relu(margin).mean(), float((margin > 0).float().mean())


def augment(x, rng, flip, shift):
    """x [B, C, H, W] (a NumPy copy): per photo a flip (p flip) and a shift dx, dy in -shift..shift,
    edges replicated: out[y, x] = in[clamp(y - dy), clamp(fx - dx)], fx the flipped column (FaceTrainer)."""
    b, _, h, w = x.shape
    out = np.empty_like(x)
    ys, xs = np.arange(h), np.arange(w)
    for i in range(b):
        f = rng.random() < flip
        dx, dy = (rng.integers(-shift, shift + 1, size=2) if shift > 0 else (0, 0))
        fx = w - 1 - xs if f else xs
        rows, cols = np.clip(ys - dy, 0, h - 1), np.clip(fx - dx, 0, w - 1)
        out[i] = x[i][:, rows][:, :, cols]
    return out


def load_set(root, names, prep):
    """{photos [P, 1, H, W] float32, labels [P], keys [(name, number)]} of the named people, in FaceSet's order."""
    xs, labels, keys = [], [], []
    for label, name in enumerate(names):
        for place, f in enumerate(photos_of(root, name)):
            xs.append(prep.exact(Image.open(os.path.join(root, name, f))))
            labels.append(label)
            stem = os.path.splitext(f)[0]
            keys.append((name, int(stem[len(name) + 1:]) if stem.startswith(name + "_") and stem[len(name) + 1:].isdigit() else place + 1))
    return np.stack(xs).astype(np.float32), np.array(labels), keys


def embed(model, x, batch=256, flip_average=False):
    """Embeddings of x [N, C, H, W]; with flip_average (the recipe's), the normalised mean of each
    photo's and its mirror image's, as dlserve's VerificationFile.embed does."""
    model.eval()
    with torch.no_grad():
        run = lambda v: torch.cat([model(torch.from_numpy(np.ascontiguousarray(v[i:i + batch]))) for i in range(0, len(v), batch)])  # noqa: E731
        e = run(x)
        if flip_average:
            e = F.normalize((e + run(x[:, :, :, ::-1])) / 2, dim=-1, eps=1e-12)
        return e.numpy().astype(np.float64)


def pair_distances(e, index, pairs):
    a = e[[index[p] for p, _ in pairs]]
    b = e[[index[q] for _, q in pairs]]
    return ((a - b) ** 2).sum(1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--recipe", default=os.path.join(REPO_ROOT, "recipes", "face-embed.json"))
    ap.add_argument("--test", default=os.path.join(REPO_ROOT, "data", "faces", "test"), help="an LFW-layout dir with pairs.txt")
    ap.add_argument("--epochs", type=int, help="default: the recipe's")
    ap.add_argument("--steps", type=int, help="steps per epoch (default: the recipe's steps_per_epoch)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, help="default: the recipe's")
    ap.add_argument("--save", help="write the trained network as a dlserve version directory (model.json, weights, verification.json)")
    ap.add_argument("--model", default=os.path.join(REPO_ROOT, "models", "face-embed"), help="for --write-metrics")
    ap.add_argument("--write-metrics", action="store_true")
    args = ap.parse_args()

    recipe = json.load(open(args.recipe))
    if recipe["objective"].get("loss", "triplet") != "triplet":
        sys.exit("error: only objective.loss triplet is reproduced here")
    epochs, steps = args.epochs or recipe.get("epochs", 20), args.steps or recipe.get("steps_per_epoch", 100)
    if args.write_metrics and (epochs, steps) != (recipe.get("epochs", 20), recipe.get("steps_per_epoch", 100)):
        sys.exit(f"error: --write-metrics needs the recipe's schedule ({recipe.get('epochs', 20)} epochs x "
                 f"{recipe.get('steps_per_epoch', 100)} steps), not {epochs} x {steps}")
    seed = recipe.get("seed", 1) if args.seed is None else args.seed
    data = recipe.get("data", {})
    obj, batch, aug, opt = recipe["objective"], recipe.get("batch", {}), recipe.get("augmentation", {}), recipe.get("optimizer", {})
    P, K = batch.get("identities", 16), batch.get("images", 4)
    alpha, mining = float(obj.get("alpha", 0.2)), obj.get("mining", "batch_hard")
    flip, shift = float(aug.get("flip", 0.5)), int(aug.get("shift", 2))
    lr0, warmup, clip = float(opt.get("lr", 1e-3)), int(opt.get("warmup_steps", 100)), opt.get("clip_norm", 10)
    total = epochs * steps

    torch.set_num_threads(args.threads)
    torch.manual_seed(seed)
    rng = np.random.default_rng([seed, 20260112])
    prep = Preprocessing(recipe)
    base = data.get("dir", "data/faces")
    train_dir = os.path.join(REPO_ROOT, base, data.get("train", "train")) if not os.path.isabs(base) else os.path.join(base, data.get("train", "train"))
    names = identities(train_dir)
    n_dev = data.get("dev_identities", 10)
    train_names, dev_names = names[:len(names) - n_dev], names[len(names) - n_dev:]
    x_train, y_train, _ = load_set(train_dir, train_names, prep)
    by_person = [np.nonzero(y_train == p)[0] for p in range(len(train_names))]
    P = min(P, len(train_names))
    dev = None
    if dev_names:
        x_dev, _, dev_keys = load_set(train_dir, dev_names, prep)
        counts = {n: sum(k[0] == n for k in dev_keys) for n in dev_names}
        dev_pairs = [((p[0], p[1]), (p[0], p[2])) if len(p) == 3 else ((p[0], p[1]), (p[2], p[3]))
                     for p in make_pairs(np.random.default_rng([seed, 3]), counts, 1, data.get("dev_pairs", 300))]
        dev = (x_dev, {k: i for i, k in enumerate(dev_keys)}, dev_pairs, np.array([p[0] == q[0] for p, q in dev_pairs]))

    model = RecipeNet(recipe["model"])
    params = list(model.parameters())
    adam = torch.optim.Adam(params, lr=lr0, betas=(0.9, 0.999), eps=1e-8, weight_decay=0)
    print(f"PyTorch {torch.__version__}, {args.threads} threads: {sum(p.numel() for p in params):,} parameters, "
          f"{len(train_names)} people ({len(x_train)} photos), {len(dev_names)} dev people; {epochs} epochs x {steps} steps of "
          f"{P} x {K}, {mining} triplets (alpha {alpha}), Adam lr {lr0}, warm-up {warmup}, cosine, clip {clip}", file=sys.stderr)

    start = time.time()
    dev_tau = None
    for epoch in range(epochs):
        t0, loss_sum, active_sum = time.time(), 0.0, 0.0
        model.train()
        for step in range(steps):
            people = rng.permutation(len(train_names))[:P]
            photos, labels = [], []
            for p in people:
                own = by_person[p]
                chosen = rng.permutation(own)[:K] if len(own) >= K else rng.choice(own, size=K)
                photos += list(chosen)
                labels += [p] * K
            x = torch.from_numpy(augment(x_train[photos], rng, flip, shift))
            s = epoch * steps + step + 1
            lr = lr0 * s / max(warmup, 1) if s <= warmup else \
                lr0 * 0.5 * (1 + math.cos(math.pi * min((s - warmup) / max(total - warmup, 1), 1)))
            for g in adam.param_groups:
                g["lr"] = lr
            loss, active = triplet_loss(model(x), torch.tensor(labels), alpha, mining)
            if not torch.isfinite(loss):
                sys.exit(f"error: the loss diverged at epoch {epoch + 1}, step {step + 1}")
            adam.zero_grad()
            loss.backward()
            if clip:
                torch.nn.utils.clip_grad_norm_(params, float(clip))
            adam.step()
            loss_sum += loss.item()
            active_sum += active
        line = f"epoch {epoch + 1}/{epochs}: loss {loss_sum / steps:.4f}, active {active_sum / steps:.3f}, lr {lr:.2e}, {time.time() - t0:.1f} s"
        if dev:
            x_dev, index, dev_pairs, dev_same = dev
            d = pair_distances(embed(model, x_dev, flip_average=recipe.get("flip_average", False)), index, dev_pairs)
            dev_tau, dev_acc = best_threshold(d, dev_same)
            line += f"; dev accuracy {dev_acc:.4f} (tau {dev_tau:.4f}), AUC {roc_auc(d, dev_same):.4f}"
        print(line, file=sys.stderr)
    minutes = (time.time() - start) / 60

    pairs, same, folds = read_pairs(os.path.join(args.test, "pairs.txt"))
    keys = sorted({k for p in pairs for k in p})
    x_test = np.stack([prep.exact(Image.open(photo_path(args.test, *k))) for k in keys]).astype(np.float32)
    d = pair_distances(embed(model, x_test, flip_average=recipe.get("flip_average", False)), {k: i for i, k in enumerate(keys)}, pairs)
    v = verification_accuracy(d, same, folds)
    result = {"accuracy_mean": round(v["mean"], 4), "accuracy_std": round(v["std"], 4), "auc": round(roc_auc(d, same), 4),
              "tau": round(best_threshold(d, same)[0], 6), "dev_tau": None if dev_tau is None else round(dev_tau, 6),
              "training_minutes": round(minutes, 2), "epochs": epochs, "steps_per_epoch": steps, "threads": args.threads,
              "seed": seed, "torch": torch.__version__, "train_identities": len(train_names), "train_photos": int(len(x_train)),
              "recipe": shown(args.recipe), "script": "scripts/baselines/faces_torch.py"}
    print(f"\n{shown(args.test)}: {len(pairs)} pairs, {len(np.unique(folds))} folds")
    print(f"pytorch_same_recipe: accuracy {v['mean']:.4f} +- {v['std']:.4f}, AUC {result['auc']:.4f}, "
          f"training {minutes:.1f} min ({epochs} x {steps} steps, {args.threads} threads)")

    if args.save:
        os.makedirs(args.save, exist_ok=True)
        spec = dict(recipe["model"], format="dlserve-model/1")
        with open(os.path.join(args.save, "model.json"), "w") as fh:
            json.dump(spec, fh, indent=2)
        state = {k: v.detach().numpy().astype("<f4") for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}
        write_raw(os.path.join(args.save, "weights.safetensors"), None,
                  {k: ("F32", list(v.shape), v.tobytes()) for k, v in sorted(state.items())})
        with open(os.path.join(args.save, "verification.json"), "w") as fh:
            json.dump({"dim": int(model.output_shape[0]), "metric": "squared_euclidean",
                       "tau": dev_tau if dev_tau is not None else 1.0}, fh)
        with open(os.path.join(args.save, "recipe.json"), "w") as fh:
            json.dump(recipe, fh, indent=2)
        print(f"wrote {args.save}", file=sys.stderr)

    if args.write_metrics:
        version_dir = os.path.join(args.model, str(latest_version(args.model)))
        path = os.path.join(version_dir, "metrics.json")
        metrics = json.load(open(path)) if os.path.exists(path) else {}
        metrics.setdefault("peers", {})["pytorch_same_recipe"] = dict(result, data=shown(args.test), pairs=len(pairs),
                                                                    folds=int(len(np.unique(folds))))
        fd, tmp = tempfile.mkstemp(dir=version_dir, suffix=".tmp")
        with os.fdopen(fd, "w") as fh:
            json.dump(metrics, fh, indent=2, sort_keys=True)
            fh.write("\n")
        os.replace(tmp, path)
        print(f"wrote {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
