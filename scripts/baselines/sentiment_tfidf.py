#!/usr/bin/env python3
"""TF-IDF + logistic-regression baseline for data/sentiment-rt.

Features: word 1-2 grams, sublinear tf, fitted on train.tsv only.
Model: scikit-learn LogisticRegression (liblinear, L2). C is picked on
dev.tsv from a small grid (ties -> smaller C); test.tsv is scored once.
Prints one JSON line.

--cv: 10-fold cross-validation over the folds in all.tsv (train on 9
folds, score the 10th), with C fixed to the best dev C; adds cv_accuracy
(mean), cv_std and cv_folds to the JSON line.

Make the data first: python3 scripts/data/prepare_sentiment_rt.py
"""
import argparse
import json
import os
import subprocess
import sys
import time

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
C_GRID = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0)

try:
    import sklearn  # noqa: F401
except ImportError:
    subprocess.run([sys.executable, "-m", "pip", "install", "scikit-learn"], check=True)

from sklearn.feature_extraction.text import TfidfVectorizer  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402


def read_tsv(path, ncols):
    rows = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            parts = line.rstrip("\n").split("\t", ncols - 1)
            if len(parts) != ncols:
                sys.exit(f"error: {path}:{n}: expected {ncols} columns")
            rows.append(parts)
    return rows


def fit_score(train_x, train_y, eval_sets, c):
    vec = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)
    xtr = vec.fit_transform(train_x)
    clf = LogisticRegression(C=c, solver="liblinear", max_iter=1000)
    clf.fit(xtr, train_y)
    return [float((clf.predict(vec.transform(x)) == y).mean()) for x, y in eval_sets]


def main():
    ap = argparse.ArgumentParser(description="TF-IDF + logistic regression on sentiment-rt")
    ap.add_argument("--data", default=os.path.join(REPO_ROOT, "data", "sentiment-rt"))
    ap.add_argument("--cv", action="store_true", help="also run 10-fold CV over all.tsv")
    args = ap.parse_args()

    import numpy as np
    t0 = time.time()
    split = {}
    for name in ("train", "dev", "test"):
        rows = read_tsv(os.path.join(args.data, f"{name}.tsv"), 2)
        split[name] = ([t for _, t in rows], np.array([l for l, _ in rows]))

    (trx, tr_y), dev, test = split["train"], split["dev"], split["test"]
    dev_scores = {c: fit_score(trx, tr_y, [dev], c)[0] for c in C_GRID}
    best_c = max(C_GRID, key=lambda c: (dev_scores[c], -c))
    dev_acc, test_acc = fit_score(trx, tr_y, [dev, test], best_c)

    out = {"model": "tfidf-logreg", "dev_accuracy": round(dev_acc, 4),
           "test_accuracy": round(test_acc, 4), "C": best_c,
           "train": len(trx), "dev": len(dev[0]), "test": len(test[0]),
           "dev_grid": {str(c): round(a, 4) for c, a in dev_scores.items()}}

    if args.cv:
        rows = read_tsv(os.path.join(args.data, "all.tsv"), 3)
        folds = np.array([int(f) for f, _, _ in rows])
        labels = np.array([l for _, l, _ in rows])
        texts = np.array([t for _, _, t in rows], dtype=object)
        accs = []
        for k in range(10):
            tr, te = folds != k, folds == k
            accs.append(fit_score(list(texts[tr]), labels[tr], [(list(texts[te]), labels[te])], best_c)[0])
        out.update({"cv_accuracy": round(float(np.mean(accs)), 4),
                    "cv_std": round(float(np.std(accs)), 4),
                    "cv_C": best_c, "cv_folds": [round(a, 4) for a in accs]})

    out["seconds"] = round(time.time() - t0, 1)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
