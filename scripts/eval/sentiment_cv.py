#!/usr/bin/env python3
"""10-fold cross-validation of dlserve's shipped sentiment recipe on MR.

The published MR results are 10-fold cross-validation accuracies: NB-SVM 79.4%
(Wang & Manning 2012) and Kim's CNN 81.5% (2014). This script gives dlserve's
figure on the same protocol, with the same folds as the shipped split:

    fold = int(sha256(snippet id).hexdigest(), 16) % 10   (data/sentiment-rt/all.tsv)

For each k in 0..9: test = fold k, dev = fold (k + 1) % 10 (early stopping),
train = the other 8 folds. The vocabulary comes from each run's training folds
only. Each fold is trained by `dlserve train` with recipes/sentiment-rt.json
unchanged except its name and dataset (and --epochs when given), into a
scratch model repository that links the GloVe vectors. Prints one line per
fold and then the mean and standard deviation beside the published anchors
(and writes the lot as JSON to --out).

Usage
    python3 scripts/eval/sentiment_cv.py [--dlserve .build/release/dlserve]
        [--folds 10] [--epochs N] [--threads 1] [--work /tmp/dlserve-cv] [--out FILE]
Takes about 10 minutes per fold on a 2-core machine with the full recipe.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ANCHORS = [("NB-SVM (Wang & Manning 2012)", 0.794), ("CNN (Kim 2014)", 0.815)]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dlserve", default=os.path.join(REPO, ".build", "release", "dlserve"))
    ap.add_argument("--data", default=os.path.join(REPO, "data", "sentiment-rt"))
    ap.add_argument("--glove", default=os.path.join(REPO, "models", "glove-6b-50d"))
    ap.add_argument("--recipe", default=os.path.join(REPO, "recipes", "sentiment-rt.json"))
    ap.add_argument("--folds", type=int, default=10, help="run folds 0..N-1 (all 10 for the published protocol)")
    ap.add_argument("--epochs", type=int, help="override the recipe's epochs (a quicker, weaker figure)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--work", default="/tmp/dlserve-cv")
    ap.add_argument("--out", default=os.path.join(REPO, "data", "sentiment-cv.json"))
    args = ap.parse_args()

    for path, hint in [(args.dlserve, "make release"), (os.path.join(args.data, "all.tsv"), "make data-sentiment"),
                       (args.glove, "make glove")]:
        if not os.path.exists(path):
            sys.exit(f"sentiment_cv: {path} is missing (run {hint})")
    rows = []
    with open(os.path.join(args.data, "all.tsv"), encoding="utf-8") as f:
        for line in f:
            fold, label, text = line.rstrip("\n").split("\t", 2)
            rows.append((int(fold), label, text))
    with open(args.recipe) as f:
        base = json.load(f)

    datasets = os.path.join(args.work, "datasets")
    models = os.path.join(args.work, "models")
    os.makedirs(models, exist_ok=True)
    link = os.path.join(models, base["model"]["embeddings"]["vectors"])
    if not os.path.exists(link):
        os.symlink(os.path.abspath(args.glove), link)

    results = []
    for k in range(args.folds):
        name = f"sentiment-cv{k}"
        d = os.path.join(datasets, name)
        os.makedirs(d, exist_ok=True)
        dev = (k + 1) % 10
        for split, keep in [("train", lambda f: f not in (k, dev)), ("dev", lambda f: f == dev), ("test", lambda f: f == k)]:
            with open(os.path.join(d, f"{split}.tsv"), "w", encoding="utf-8") as out:
                for fold, label, text in rows:
                    if keep(fold):
                        out.write(f"{label}\t{text}\n")
        with open(os.path.join(d, "classes.txt"), "w") as out:
            out.write("negative\npositive\n")
        recipe = dict(base, name=name, dataset={"name": name})
        if args.epochs:
            recipe["epochs"] = args.epochs
        path = os.path.join(args.work, f"{name}.json")
        with open(path, "w") as out:
            json.dump(recipe, out)
        proc = subprocess.run([args.dlserve, "train", path, "--models", models, "--datasets", datasets,
                               "--threads", str(args.threads), "-q"], capture_output=True, text=True)
        if proc.returncode != 0:
            sys.exit(f"sentiment_cv: fold {k} failed:\n{proc.stderr}")
        summary = json.loads(proc.stdout)
        version = summary.get("version")
        with open(os.path.join(models, name, str(version), "metrics.json")) as f:
            metrics = json.load(f)
        acc = metrics["test_accuracy"]
        results.append({"fold": k, "test_accuracy": acc, "test_count": metrics["test_images"],
                        "best_epoch": metrics.get("best_epoch"), "seconds": metrics.get("training_seconds")})
        print(f"fold {k}: {acc * 100:.2f}% of {metrics['test_images']} (best epoch {metrics.get('best_epoch')}, "
              f"{metrics.get('training_seconds', 0):.0f} s)", flush=True)

    accs = [r["test_accuracy"] for r in results]
    mean = statistics.mean(accs)
    std = statistics.stdev(accs) if len(accs) > 1 else 0.0
    print()
    print(f"{'model':34} {'MR accuracy':>12}")
    print(f"{'dlserve sentiment-rt recipe':34} {mean * 100:11.2f}%  ({len(accs)} folds, std {std * 100:.2f})")
    for label, a in ANCHORS:
        print(f"{label:34} {a * 100:11.2f}%  (published, 10-fold)")
    with open(args.out, "w") as out:
        json.dump({"folds": results, "mean": mean, "std": std, "epochs": recipe["epochs"],
                   "anchors": dict(ANCHORS)}, out, indent=2)


if __name__ == "__main__":
    main()
