#!/usr/bin/env python3
"""Prepare the movie-review sentence polarity data set ("sentiment-rt").

Source
    PyPI package vaderSentiment 3.3.2, source distribution
    (vaderSentiment-3.3.2.tar.gz), fetched with
        python3 -m pip download --no-deps --no-binary :all: vaderSentiment==3.3.2 -d CACHE
    Inside it, additional_resources/hutto_ICWSM_2014.tar.gz holds
    hutto_ICWSM_2014/movieReviewSnippets_GroundTruth.txt: 10,605 Rotten
    Tomatoes critic sentences (Hutto & Gilbert, ICWSM 2014), each with the
    mean of ~15-20 human ratings on a -4..+4 scale. Both archives are read
    in memory with tarfile; nothing is extracted to disk.

File format found
    UTF-8 (no BOM), CRLF line ends, no newline after the last line,
    3 tab-separated columns, no header:
        ID <TAB> MEAN_RATING <TAB> SENTENCE
    ID runs 1..10605; MEAN_RATING is a decimal like 2.26666666667.
    Lines are decoded as strict UTF-8; a line that is not valid UTF-8
    falls back to cp1252 (then latin-1), so the output is always UTF-8.

Labels
    positive if rating > 0, negative if rating < 0; rating == 0 is dropped.
    Text: surrounding whitespace stripped, runs of tabs / newlines / other
    line breaks inside it collapsed to one space; otherwise kept as is.

Split rule (deterministic, no RNG)
    fold = int(sha256(str(ID).encode("ascii")).hexdigest(), 16) % 10
    where ID is the decimal snippet id as in the file (e.g. "42").
    Folds 0-7 -> train, 8 -> dev, 9 -> test (~80/10/10).
    all.tsv keeps every example with its fold for 10-fold cross-validation.
    Rows in every output file are in ascending ID order.

Outputs (in --out, default data/sentiment-rt)
    train.tsv, dev.tsv, test.tsv   LABEL<TAB>TEXT   (LABEL negative|positive)
    all.tsv                        FOLD<TAB>LABEL<TAB>TEXT  (FOLD 0-9)
    classes.txt                    "negative" and "positive", one a line
    SOURCE.txt                     provenance, counts and the rule
    Every file is written to a temp file and renamed into place; running the
    script again gives byte-identical output.

Usage
    python3 scripts/data/prepare_sentiment_rt.py [--out DIR] [--cache DIR]
"""
import argparse
import hashlib
import io
import os
import re
import subprocess
import sys
import tarfile
import tempfile

PACKAGE = "vaderSentiment"
VERSION = "3.3.2"
SDIST = f"{PACKAGE}-{VERSION}.tar.gz"
INNER_TAR = f"{PACKAGE}-{VERSION}/additional_resources/hutto_ICWSM_2014.tar.gz"
MEMBER = "hutto_ICWSM_2014/movieReviewSnippets_GroundTruth.txt"
EXPECTED_ROWS = 10605
LABELS = ("negative", "positive")
SPLITS = {"train": range(0, 8), "dev": (8,), "test": (9,)}

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BREAKS = re.compile(r"[\t\r\n\v\f\x85\u2028\u2029]+")


def fold_of(snippet_id: str) -> int:
    return int(hashlib.sha256(snippet_id.encode("ascii")).hexdigest(), 16) % 10


def sdist_path(cache: str) -> str:
    os.makedirs(cache, exist_ok=True)
    path = os.path.join(cache, SDIST)
    if not os.path.exists(path):
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps",
               "--no-binary", ":all:", f"{PACKAGE}=={VERSION}", "-d", cache]
        print("+ " + " ".join(cmd), file=sys.stderr)
        subprocess.run(cmd, check=True)
    if not os.path.exists(path):
        sys.exit(f"error: {path} not found after pip download")
    return path


def read_member(sdist: str) -> bytes:
    with tarfile.open(sdist, "r:gz") as outer:
        f = outer.extractfile(INNER_TAR)
        if f is None:
            sys.exit(f"error: {INNER_TAR} missing from {sdist}")
        inner_bytes = f.read()
    with tarfile.open(fileobj=io.BytesIO(inner_bytes), mode="r:gz") as inner:
        f = inner.extractfile(MEMBER)
        if f is None:
            sys.exit(f"error: {MEMBER} missing from {INNER_TAR}")
        return f.read()


def decode_line(raw: bytes) -> str:
    for enc in ("utf-8", "cp1252"):
        try:
            return raw.decode(enc)
        except UnicodeDecodeError:
            pass
    return raw.decode("latin-1")


def parse(data: bytes):
    """Yield (id:str, rating:float, text:str) for each line of the file."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    rows, fallback = [], 0
    for n, raw in enumerate(data.splitlines(), 1):  # handles \r\n, \n, \r
        if not raw.strip():
            continue
        line = decode_line(raw)
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            fallback += 1
        parts = line.split("\t", 2)
        if len(parts) != 3:
            sys.exit(f"error: line {n}: expected 3 tab-separated fields, got {len(parts)}")
        sid, rating, text = parts
        sid = sid.strip()
        if not sid.isdigit():
            sys.exit(f"error: line {n}: bad id {sid!r}")
        text = BREAKS.sub(" ", text).strip()
        if not text:
            sys.exit(f"error: line {n}: empty text")
        rows.append((sid, float(rating), text))
    ids = [r[0] for r in rows]
    if len(set(ids)) != len(ids):
        sys.exit("error: duplicate snippet ids")
    if len(rows) != EXPECTED_ROWS:
        print(f"warning: {len(rows)} rows, expected {EXPECTED_ROWS}", file=sys.stderr)
    rows.sort(key=lambda r: int(r[0]))
    return rows, fallback


def write_atomic(path: str, text: str) -> None:
    d = os.path.dirname(path) or "."
    fd, tmp = tempfile.mkstemp(dir=d, prefix="." + os.path.basename(path) + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(REPO_ROOT, "data", "sentiment-rt"))
    ap.add_argument("--cache", default=os.path.join(REPO_ROOT, "data", "cache"))
    args = ap.parse_args()

    sdist = sdist_path(args.cache)
    rows, fallback = parse(read_member(sdist))

    examples, zero = [], 0  # (fold, label, text)
    for sid, rating, text in rows:
        if rating == 0:
            zero += 1
            continue
        examples.append((fold_of(sid), "positive" if rating > 0 else "negative", text))

    os.makedirs(args.out, exist_ok=True)
    counts = {}
    for split, folds in SPLITS.items():
        sel = [(lab, t) for f, lab, t in examples if f in folds]
        counts[split] = {lab: sum(1 for l, _ in sel if l == lab) for lab in LABELS}
        write_atomic(os.path.join(args.out, f"{split}.tsv"),
                     "".join(f"{lab}\t{t}\n" for lab, t in sel))
    write_atomic(os.path.join(args.out, "all.tsv"),
                 "".join(f"{f}\t{lab}\t{t}\n" for f, lab, t in examples))
    write_atomic(os.path.join(args.out, "classes.txt"), "".join(l + "\n" for l in LABELS))
    fold_counts = [sum(1 for f, _, _ in examples if f == k) for k in range(10)]

    table = "\n".join(
        f"  {s:<5} {sum(c.values()):>5}  negative {c['negative']:>5}  positive {c['positive']:>5}"
        for s, c in counts.items())
    total = {lab: sum(c[lab] for c in counts.values()) for lab in LABELS}
    table += f"\n  {'all':<5} {len(examples):>5}  negative {total['negative']:>5}  positive {total['positive']:>5}"
    source = f"""sentiment-rt: movie-review sentence polarity (Rotten Tomatoes critic snippets)

Source:  PyPI package {PACKAGE} {VERSION}, source distribution {SDIST}
         -> {INNER_TAR}
         -> {MEMBER}
         (Hutto, C.J. & Gilbert, E.E. (2014). VADER: A Parsimonious Rule-based
         Model for Sentiment Analysis of Social Media Text. ICWSM-14.
         Package licence: MIT.)
Format:  UTF-8, CRLF, ID<TAB>MEAN_RATING<TAB>SENTENCE, ratings are means of
         human ratings on -4..+4.
Rows read: {len(rows)}; dropped with rating exactly 0: {zero}; kept: {len(examples)}
         (lines decoded via cp1252/latin-1 fallback: {fallback})
Labels:  positive = rating > 0, negative = rating < 0.
Text:    stripped; tabs/newlines inside collapsed to one space; else as is.
Split:   fold = int(sha256(ID as decimal ASCII).hexdigest(), 16) % 10;
         folds 0-7 train, 8 dev, 9 test. all.tsv = FOLD<TAB>LABEL<TAB>TEXT.
         Rows in ascending ID order.
Made by: scripts/data/prepare_sentiment_rt.py

Counts:
{table}
Per fold 0-9: {' '.join(map(str, fold_counts))}
"""
    write_atomic(os.path.join(args.out, "SOURCE.txt"), source)
    print(f"rows {len(rows)}, dropped (rating 0) {zero}, kept {len(examples)}, decode fallbacks {fallback}")
    print(table)
    print("per fold:", " ".join(map(str, fold_counts)))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
