#!/usr/bin/env python3
"""Face verification on LFW-layout pairs: two peers and (optionally) dlserve, in one run.

Protocol (LFW's "unrestricted" 10-fold test, `verification_accuracy`)
    Every line of pairs.txt is a pair with a distance d (smaller = more alike)
    and a truth (same person or not); lines are in folds of 2N (the header's
    "F<TAB>N": N matched, then N mismatched lines per fold; a one-value
    header "N" is one fold). For each fold, tau is chosen on the other folds
    (on the fold itself when there is only one): the candidates are the
    midpoints between consecutive distinct sorted distances of those folds
    and one past each end (min - 1: all "different", max + 1: all "same"), a
    pair is called "same" when d < tau, and the candidate with the highest
    accuracy wins (the smallest such tau on a tie) -- the rule of DLTrain's
    Verification.bestThreshold. The fold's accuracy is measured with that tau. The
    result is the mean and the population standard deviation (numpy's
    default) over folds; the ROC AUC is over all pairs, P(d_same < d_diff)
    with ties counted one half; "tau" is the threshold the same rule picks
    on all pairs.

Peers (images converted to grey and resized to 25 x 25 when they are not)
    eigenfaces  PCA (numpy SVD) of the --train identities' photos only,
                flattened, centred on their mean; the first k components;
                projections L2-normalised; squared Euclidean distance. k is
                chosen (unless --k) by the 10-fold accuracy of this same
                protocol on a seeded split of the TRAIN identities (PCA on
                5/7 of them, pairs among the rest); then the PCA is refitted on
                all of them. The test identities play no part in choosing k.
    pixels      raw pixels centred on the same training mean, L2-normalised,
                squared Euclidean distance.
    dlserve     with --model: `DLSERVE eval --model MODEL --data DIR` must
                print JSON with at least pairs, folds, accuracy_mean,
                accuracy_std, auc, tau and distances (one per pairs.txt line,
                in file order); its accuracy mean / std and AUC are
                recomputed here from its distances with this protocol and
                must agree within 1e-6.
With --write-metrics (needs --model) "peers" and "cross_check" are merged into
MODEL/<latest version>/metrics.json, atomically.

Usage
    python3 scripts/eval/faces.py [--data data/faces/test] [--train data/faces/train] [--k K]
        [--model models/face-embed] [--version N] [--dlserve .build/release/dlserve] [--write-metrics]
    python3 scripts/eval/faces.py --self-test
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
from PIL import Image

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO_ROOT, "scripts", "data"))
from prepare_faces import SIZE, make_pairs  # noqa: E402

K_CANDIDATES = [5, 10, 15, 20, 30, 40, 60, 80, 120, 160]
TOLERANCE = 1e-6


def best_threshold(d, same):
    """(tau, accuracy) on these pairs by the rule in the docstring."""
    order = np.argsort(d, kind="mergesort")
    d, same = d[order], same[order].astype(np.float64)
    cuts = np.nonzero(d[1:] > d[:-1])[0]  # a cut after sorted position i
    taus = np.concatenate([[d[0] - 1], (d[cuts] + d[cuts + 1]) / 2, [d[-1] + 1]])
    correct = np.concatenate([[(1 - same).sum()], np.cumsum(same)[cuts] + ((1 - same).sum() - np.cumsum(1 - same)[cuts]),
                              [same.sum()]])
    best = int(np.argmax(correct))  # the first: the smallest tau
    return float(taus[best]), float(correct[best] / len(d))


def verification_accuracy(distances, same, folds):
    """10-fold (or len(unique(folds))-fold) accuracy: {"accuracies", "taus", "mean", "std"}."""
    distances, same, folds = np.asarray(distances, np.float64), np.asarray(same, bool), np.asarray(folds)
    accs, taus = [], []
    for f in np.unique(folds):
        rest = folds != f if len(np.unique(folds)) > 1 else folds == f
        tau, _ = best_threshold(distances[rest], same[rest])
        held = folds == f
        accs.append(float(((distances[held] < tau) == same[held]).mean()))
        taus.append(tau)
    return {"accuracies": accs, "taus": taus, "mean": float(np.mean(accs)), "std": float(np.std(accs))}


def roc_auc(distances, same):
    """P(d_same < d_diff) + P(d_same == d_diff) / 2 (the area under the ROC curve of -d)."""
    distances, same = np.asarray(distances, np.float64), np.asarray(same, bool)
    values, inverse, counts = np.unique(distances, return_inverse=True, return_counts=True)
    ranks = (np.cumsum(counts) - (counts - 1) / 2)[inverse]  # 1-based average ranks, ascending
    n_diff, n_same = int((~same).sum()), int(same.sum())
    return float((ranks[~same].sum() - n_diff * (n_diff + 1) / 2) / (n_diff * n_same))


def read_pairs(path):
    """pairs.txt -> ([((name1, n1), (name2, n2))], same [P] bool, folds [P] int)."""
    with open(path) as fh:
        header = [int(v) for v in fh.readline().split()]
        rows = [line.split() for line in fh if line.strip()]
    n_folds, per_fold = header if len(header) == 2 else [1] + header
    if len(rows) != 2 * n_folds * per_fold:
        sys.exit(f"error: {path}: {len(rows)} pairs, the header promises {2 * n_folds * per_fold}")
    for i, r in enumerate(rows):
        if len(r) != (3 if i % (2 * per_fold) < per_fold else 4):
            sys.exit(f"error: {path}:{i + 2}: a {'matched' if i % (2 * per_fold) < per_fold else 'mismatched'} pair expected")
    return [keys(r) for r in rows], np.array([len(r) == 3 for r in rows]), np.arange(len(rows)) // (2 * per_fold)


def keys(line):
    """A pairs.txt line's fields -> ((name1, n1), (name2, n2))."""
    if len(line) == 3:
        return (line[0], int(line[1])), (line[0], int(line[2]))
    return (line[0], int(line[1])), (line[2], int(line[3]))


def load_image(path):
    img = Image.open(path).convert("L")
    if img.size != (SIZE, SIZE):
        img = img.resize((SIZE, SIZE), Image.BILINEAR)
    return np.asarray(img, dtype=np.float64).reshape(-1) / 255


def photo_path(root, name, n):
    for ext in ("png", "jpg", "jpeg"):
        path = os.path.join(root, name, f"{name}_{n:04d}.{ext}")
        if os.path.exists(path):
            return path
    sys.exit(f"error: no image for {name} {n} under {root}")


def load_identities(root, names=None):
    """{name: [P, 625]} for every identity folder (or `names`) of an LFW-layout dir."""
    names = names or sorted(d for d in os.listdir(root) if os.path.isdir(os.path.join(root, d)))
    return {n: np.stack([load_image(os.path.join(root, n, f)) for f in sorted(os.listdir(os.path.join(root, n)))
                         if f.lower().endswith((".png", ".jpg", ".jpeg"))]) for n in names}


def normalized(x):
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def pair_distances(embed, pairs, images):
    """Squared Euclidean distances of embed(image) over the pairs; images is {(name, n): vector}."""
    a = embed(np.stack([images[p] for p, _ in pairs]))
    b = embed(np.stack([images[q] for _, q in pairs]))
    return ((a - b) ** 2).sum(1)


def pca(x):
    """(mean, principal axes [625, 625] as columns, by decreasing variance) of the rows of x.
    The SVD of the 625 x 625 scatter matrix: the same axes as the SVD of the centred
    data, 20 times faster on 7,000 rows."""
    mean = x.mean(0)
    u, _, _ = np.linalg.svd((x - mean).T @ (x - mean))
    return mean, u


def choose_k(train):
    """The k of the best 10-fold accuracy on a seeded 50 / 20 split of the training identities."""
    names = sorted(train)
    if len(names) < 20:
        sys.exit(f"error: {len(names)} training identities are too few to choose k; give --k")
    perm = np.random.default_rng(7).permutation(len(names))
    n_fit = round(len(names) * 5 / 7)
    fit, val = [names[i] for i in perm[:n_fit]], [names[i] for i in perm[n_fit:]]
    mean, comps = pca(np.concatenate([train[n] for n in fit]))
    pairs = [keys(p) for p in make_pairs(np.random.default_rng(8), {n: len(train[n]) for n in val}, 10, 300)]
    same = np.array([p[0] == q[0] for p, q in pairs])
    folds = np.arange(len(pairs)) // 600
    images = {(n, i + 1): train[n][i] for n in val for i in range(len(train[n]))}
    scores = {}
    for k in K_CANDIDATES:
        d = pair_distances(lambda x: normalized((x - mean) @ comps[:, :k]), pairs, images)
        scores[k] = verification_accuracy(d, same, folds)["mean"]
    print(f"choosing k on the training identities ({len(fit)} fit, {len(val)} held out, 10 x 600 pairs): "
          + ", ".join(f"k={k}: {a:.4f}" for k, a in scores.items()), file=sys.stderr)
    return max(K_CANDIDATES, key=lambda k: (scores[k], -k))


def summary(d, same, folds):
    v = verification_accuracy(d, same, folds)
    return {"accuracy_mean": round(v["mean"], 4), "accuracy_std": round(v["std"], 4), "auc": round(roc_auc(d, same), 4),
            "tau": round(best_threshold(d, same)[0], 6)}


def shown(path):
    """A path relative to the repository when it is inside it."""
    rel = os.path.relpath(os.path.abspath(path), REPO_ROOT)
    return os.path.abspath(path) if rel.startswith("..") else rel


def latest_version(model_dir):
    versions = [int(d) for d in os.listdir(model_dir) if d.isdigit() and os.path.exists(os.path.join(model_dir, d, "model.json"))]
    if not versions:
        sys.exit(f"error: no version with model.json under {model_dir}")
    return max(versions)


def dlserve_check(args, same, folds):
    cmd = [args.dlserve, "eval", "--model", args.model, "--data", args.data]
    if args.version:
        cmd += ["--version", str(args.version)]
    print("+ " + " ".join(cmd), file=sys.stderr)
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"error: {' '.join(cmd)}: {proc.stderr.strip()}")
    out = json.loads(proc.stdout)
    missing = {"pairs", "folds", "accuracy_mean", "accuracy_std", "auc", "tau", "distances"} - set(out)
    if missing:
        sys.exit(f"error: dlserve eval's JSON lacks {sorted(missing)}")
    d = np.asarray(out["distances"], np.float64)
    if out["pairs"] != len(same) or len(d) != len(same) or out["folds"] != len(np.unique(folds)):
        sys.exit(f"error: dlserve eval reports {out['pairs']} pairs, {len(d)} distances, {out['folds']} folds; "
                 f"pairs.txt has {len(same)} pairs in {len(np.unique(folds))} folds")
    v = verification_accuracy(d, same, folds)
    ours = {"accuracy_mean": v["mean"], "accuracy_std": v["std"], "auc": roc_auc(d, same), "tau": best_threshold(d, same)[0]}
    theirs = {k: float(out[k]) for k in ours}
    print(f"dlserve eval:                  accuracy {theirs['accuracy_mean']:.6f} +- {theirs['accuracy_std']:.6f}, AUC {theirs['auc']:.6f}, "
          f"tau {theirs['tau']:.6f}")
    print(f"recomputed from its distances: accuracy {ours['accuracy_mean']:.6f} +- {ours['accuracy_std']:.6f}, AUC {ours['auc']:.6f}, "
          f"tau {ours['tau']:.6f}")
    diff = max(abs(ours[k] - theirs[k]) for k in ("accuracy_mean", "accuracy_std", "auc"))
    if diff > TOLERANCE:
        sys.exit(f"error: dlserve eval's accuracy / AUC and this protocol's on its own distances differ by {diff:.3g} "
                 f"(> {TOLERANCE})")
    return {"dlserve": theirs, "recomputed": ours, "max_difference": diff, "tolerance": TOLERANCE}, \
        {k: round(theirs[k], 4) for k in ("accuracy_mean", "accuracy_std", "auc")}


def self_test():
    rng = np.random.default_rng(0)
    folds = np.repeat(np.arange(10), 20)
    same = np.tile(np.r_[np.ones(10, bool), np.zeros(10, bool)], 10)
    # Separable: every fold perfect, AUC 1; reversed: AUC 0.
    d = np.where(same, rng.uniform(0, 1, 200), rng.uniform(2, 3, 200))
    v = verification_accuracy(d, same, folds)
    assert v["mean"] == 1.0 and v["std"] == 0.0 and all(1 <= t <= 2 for t in v["taus"]), v
    assert roc_auc(d, same) == 1.0 and roc_auc(-d, same) == 0.0
    assert roc_auc(np.ones(200), same) == 0.5
    # Against a brute-force search over every candidate, with ties in the distances.
    for trial in range(20):
        d = np.round(np.where(same, rng.normal(1, 0.7, 200), rng.normal(2, 0.7, 200)), 1)
        v = verification_accuracy(d, same, folds)
        for f in range(10):
            tr = folds != f
            u = np.unique(d[tr])
            cands = np.r_[u[0] - 1, (u[1:] + u[:-1]) / 2, u[-1] + 1]
            accs = [((d[tr] < t) == same[tr]).mean() for t in cands]
            tau = cands[int(np.argmax(accs))]
            assert tau == v["taus"][f], (trial, f)
            assert v["accuracies"][f] == ((d[folds == f] < tau) == same[folds == f]).mean()
        brute = np.mean([(a < b) + 0.5 * (a == b) for a in d[same] for b in d[~same]])
        assert abs(roc_auc(d, same) - brute) < 1e-12
    assert np.isclose(v["std"], np.sqrt(np.mean((np.array(v["accuracies"]) - v["mean"]) ** 2)))
    # By hand: fold 1 alone ties at taus 0.34375 and 0.625 (3 of 4 right) and the smaller wins, which
    # then calls 0.375 different in fold 0; fold 0 gives 0.5, and 0.5 < 0.5 is false ("different").
    d = [0.125, 0.375, 0.625, 0.875, 0.25, 0.5, 0.4375, 0.75]
    v = verification_accuracy(d, [1, 1, 0, 0, 1, 1, 0, 0], [0, 0, 0, 0, 1, 1, 1, 1])
    assert v["taus"] == [0.34375, 0.5] and v["accuracies"] == [0.75, 0.5] and v["mean"] == 0.625, v
    # The ends (all "same": max + 1; all "different": min - 1), and one fold choosing on itself.
    assert best_threshold(np.array([0.5, 1.0, 2.0]), np.array([True, True, True])) == (3.0, 1.0)
    assert best_threshold(np.array([1.0, 1.0]), np.array([False, False])) == (0.0, 1.0)
    v = verification_accuracy([0.25, 0.75], [True, False], [0, 0])
    assert v["taus"] == [0.5] and v["mean"] == 1.0, v
    print("self-test: ok")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=os.path.join(REPO_ROOT, "data", "faces", "test"), help="an LFW-layout dir with pairs.txt")
    ap.add_argument("--train", default=os.path.join(REPO_ROOT, "data", "faces", "train"), help="the eigenfaces' training identities")
    ap.add_argument("--k", type=int, help="eigenfaces components (default: chosen on the training identities)")
    ap.add_argument("--model", help="a dlserve face-embedding model dir, e.g. models/face-embed")
    ap.add_argument("--version", type=int)
    ap.add_argument("--dlserve", default=os.environ.get("DLSERVE_BIN", os.path.join(REPO_ROOT, ".build", "release", "dlserve")))
    ap.add_argument("--write-metrics", action="store_true")
    ap.add_argument("--self-test", action="store_true", help="check the protocol on synthetic distances and exit")
    args = ap.parse_args()
    if args.self_test:
        return self_test()
    if args.write_metrics and not args.model:
        sys.exit("error: --write-metrics needs --model")

    pairs, same, folds = read_pairs(os.path.join(args.data, "pairs.txt"))
    images = {key: load_image(photo_path(args.data, *key)) for key in sorted({k for p in pairs for k in p})}
    train = load_identities(args.train)
    k = args.k or choose_k(train)
    mean, comps = pca(np.concatenate(list(train.values())))
    rows = {"eigenfaces": dict(summary(pair_distances(lambda x: normalized((x - mean) @ comps[:, :k]), pairs, images), same, folds), k=k),
            "pixels": summary(pair_distances(lambda x: normalized(x - mean), pairs, images), same, folds)}
    check = None
    if args.model:
        if os.path.exists(args.dlserve):
            check, rows["dlserve"] = dlserve_check(args, same, folds)
        else:
            print(f"note: {args.dlserve} not found; dlserve skipped", file=sys.stderr)

    print(f"\n{shown(args.data)}: {len(pairs)} pairs, {len(np.unique(folds))} folds; "
          f"PCA on {sum(len(v) for v in train.values())} photos of {len(train)} training identities")
    print(f"{'system':<12} {'k':>4} {'accuracy':>17} {'AUC':>7}")
    for name, r in rows.items():
        print(f"{name:<12} {r.get('k', ''):>4} {r['accuracy_mean']:>8.4f} +- {r['accuracy_std']:.4f} {r['auc']:>7.4f}")

    if args.write_metrics:
        version_dir = os.path.join(args.model, str(args.version or latest_version(args.model)))
        path = os.path.join(version_dir, "metrics.json")
        metrics = json.load(open(path)) if os.path.exists(path) else {}
        # Other peers recorded there (scripts/baselines/faces_torch.py's pytorch_same_recipe) are kept.
        metrics["peers"] = {**metrics.get("peers", {}), "data": shown(args.data), "pairs": len(pairs),
                            "folds": len(np.unique(folds)), "eigenfaces": rows["eigenfaces"], "pixels": rows["pixels"]}
        if check:
            metrics["cross_check"] = check
        fd, tmp = tempfile.mkstemp(dir=version_dir, suffix=".tmp")
        with os.fdopen(fd, "w") as fh:
            json.dump(metrics, fh, indent=2, sort_keys=True)
            fh.write("\n")
        os.replace(tmp, path)
        print(f"wrote {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
