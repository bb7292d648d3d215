#!/usr/bin/env python3
"""The shipped face embedding against onnxruntime running the same graph, and
identification against NumPy, interleaved.

dlserve: `dlserve-bench --pipe`, run in ROOT (default the repository), which
holds models/face-embed (latest version) and data/faces/test. The photos are
the first 200 of data/faces/test in sorted order (folders by name, then the
.png / .jpg / .jpeg files in each by name; pairs.txt is not a photo),
decoded before any timing on both sides. One line in, one line out:
    Embed1 THREADS COUNT   COUNT latencies (ms) of preprocessing (grey,
                           resize 25 -> 32, scale, normalise) + embedding of
                           one photo; photo i % 200 for the i-th, after warm-up
    Embed32 THREADS COUNT  COUNT times (ms) of batches of 32 consecutive
                           photos, batch j from photo (32 j) % 169
    Identify N COUNT       COUNT latencies (ms) of one query on one thread:
                           the nearest of N seeded random unit 128-vectors
                           (squared Euclidean); the gallery is built once per
                           N before any timing
`dlserve-bench --face-embeddings` prints {"files": [the first 64 photos,
paths relative to data/faces/test], "embeddings": [[128 floats] per file]}.

Peers: the version's model.json and weights exported to ONNX
(scripts/tools/onnx_export.py) in onnxruntime; the timed preprocessing is
Pillow's BILINEAR resize (C, 8-bit, within rounding of DLVision's) and NumPy
scale / normalise. The agreement check resizes exactly as DLVision does
(scripts/tools/face_numpy.py: bilinear with half-pixel centres and edge
clamping when enlarging, area when shrinking) in float64, so both engines
see the same input. Identification: NumPy on one OpenBLAS thread, the argmin
over the gallery of |g|^2 - 2 g.q (the squared distance less the constant
|q|^2: one sgemv, G @ q, and an argmin), on the same sizes of seeded random
unit vectors (not the same vectors as dlserve's). Short alternating rounds
(this VM's speed drifts); printed: median ms, the median of per-round ratios
(dlserve / peer; below 1 is faster), embeddings per second, and the
agreement (largest absolute difference of embedding components, smallest
cosine similarity).

usage: faces.py PATH/TO/dlserve-bench [ROUNDS] [--root DIR] [--no-identify]"""
import argparse
import json
import os
import subprocess
import sys
import time

CHILD_ENV = os.environ.copy()  # dlserve-bench sets its own BLAS threads
# NumPy's BLAS on one thread for the identification peer (onnxruntime has its own pool).
for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = "1"

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO_ROOT, "scripts", "tools"))
import onnx_export  # noqa: E402
from face_numpy import Preprocessing, photo_list  # noqa: E402

PHOTOS, AGREE, BATCH, DIM = 200, 64, 32, 128
GALLERIES = {1_000: 400, 100_000: 40, 1_000_000: 4}  # N: queries per round


def latest_version(model_dir):
    versions = [int(d) for d in os.listdir(model_dir) if d.isdigit() and os.path.exists(os.path.join(model_dir, d, "model.json"))]
    if not versions:
        sys.exit(f"error: no version with model.json under {model_dir} (train it: dlserve train recipes/face-embed.json)")
    return os.path.join(model_dir, str(max(versions)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("binary")
    ap.add_argument("rounds", nargs="?", type=int, default=10)
    ap.add_argument("--root", default=REPO_ROOT, help="the directory holding models/face-embed and data/faces (dlserve-bench's cwd)")
    ap.add_argument("--no-identify", action="store_true", help="skip the identification rounds")
    args = ap.parse_args()
    import onnxruntime as ort

    binary = os.path.abspath(args.binary) if os.sep in args.binary else args.binary
    version_dir = latest_version(os.path.join(args.root, "models", "face-embed"))
    test_dir = os.path.join(args.root, "data", "faces", "test")
    if not os.path.isdir(test_dir):
        sys.exit(f"error: {test_dir} is missing (make data-faces)")
    recipe_path = os.path.join(version_dir, "recipe.json")
    prep = Preprocessing(json.load(open(recipe_path if os.path.exists(recipe_path) else os.path.join(REPO_ROOT, "recipes", "face-embed.json"))))
    files = photo_list(test_dir, PHOTOS)
    images = [Image.open(os.path.join(test_dir, f)).convert("L") for f in files]
    for im in images:
        im.load()
    blob = onnx_export.export(version_dir)
    # verification.json's test-time views (VerificationFile.views): each shift of the photo (edges
    # replicated), with flip_average each also mirrored, in one batch of views x N; the embedding is
    # the mean over the views, rescaled to unit length unless normalize_mean is false. The peer does the same.
    verification = json.load(open(os.path.join(version_dir, "verification.json")))
    flip = verification.get("flip_average", False)
    shifts = verification.get("view_shifts") or [[0, 0]]
    normalize = verification.get("normalize_mean", True)

    def shifted(x, dx, dy):
        h, w = x.shape[2], x.shape[3]
        ys = np.clip(np.arange(h) - dy, 0, h - 1)
        xs = np.clip(np.arange(w) - dx, 0, w - 1)
        return x[:, :, ys][:, :, :, xs]

    def with_flips(run, x):
        views = [shifted(x, dx, dy) for dx, dy in shifts]
        if flip:
            views += [v[:, :, :, ::-1] for v in views]
        if len(views) == 1:
            return run(x)
        e = run(np.concatenate(views).astype(np.float32)).reshape(len(views), len(x), -1)
        m = e.mean(axis=0)
        return m / np.maximum(np.linalg.norm(m, axis=1, keepdims=True), 1e-12) if normalize else m

    # Agreement: dlserve's embeddings of the first 64 photos against onnxruntime on DLVision's exact input.
    proc = subprocess.run([binary, "--face-embeddings"], capture_output=True, text=True, cwd=args.root, env=CHILD_ENV)
    if proc.returncode != 0:
        sys.exit(f"error: {binary} --face-embeddings: {proc.stderr.strip() or proc.stdout.strip()}")
    ours = json.loads(proc.stdout)
    got_files = [f[len("data/faces/test/"):] if f.startswith("data/faces/test/") else f for f in ours["files"]]
    if got_files != files[:len(got_files)] or len(got_files) != AGREE:
        sys.exit(f"error: dlserve-bench embedded {got_files[:3]}... ({len(got_files)} files); expected the first {AGREE} "
                 f"of the sorted test photos, {files[:3]}...")
    sess1 = ort.InferenceSession(blob, providers=["CPUExecutionProvider"])
    theirs = with_flips(lambda v: sess1.run(None, {"image": v})[0],
                        np.stack([prep.exact(im) for im in images[:AGREE]]).astype(np.float32))
    a, b = np.asarray(ours["embeddings"], np.float64), theirs.astype(np.float64)
    if a.shape != b.shape:
        sys.exit(f"error: dlserve-bench's embeddings are {a.shape}, onnxruntime's {b.shape}")
    cos = (a * b).sum(1) / np.maximum(np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1), 1e-30)
    print(f"face-embed ({os.path.basename(version_dir)}) vs onnxruntime {ort.__version__}, same graph, {len(images)} test photos, "
          f"{args.rounds} interleaved rounds")
    print(f"agreement on {AGREE} photos (DLVision's resize in NumPy): max |difference| {np.abs(a - b).max():.2e}, "
          f"cosine similarity min {cos.min():.7f}")

    pipe = subprocess.Popen([binary, "--pipe"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=args.root, env=CHILD_ENV)

    def dlserve(cmd, arg, count):
        pipe.stdin.write(f"{cmd} {arg} {count}\n")
        pipe.stdin.flush()
        line = pipe.stdout.readline()
        if not line or line.startswith("error"):
            sys.exit(f"dlserve-bench --pipe: {line.strip() or 'no answer (are models/face-embed and data/faces/test there?)'}")
        values = [float(v) for v in line.split()]
        if len(values) != count:
            sys.exit(f"dlserve-bench --pipe: {cmd} {arg} {count} answered {len(values)} values")
        return values

    def interleave(cmd, arg, count, peer):
        ours_ms, theirs_ms, ratios = [], [], []
        for _ in range(args.rounds):
            # A pause before each engine's turn, so that the other's spinning worker threads have gone to sleep.
            time.sleep(0.05)
            d = dlserve(cmd, arg, count)
            time.sleep(0.05)
            o = peer(count)
            ours_ms += d
            theirs_ms += o
            ratios.append(np.median(d) / np.median(o))
        return np.median(ours_ms), np.median(theirs_ms), np.median(ratios), sum(r <= 1 for r in ratios)

    print(f"\n{'embedding':<22}{'threads':>8}{'dlserve ms':>12}{'ort ms':>10}{'ratio':>8}{'rounds won':>12}"
          f"{'dlserve emb/s':>15}{'ort emb/s':>11}")
    for threads in (1, 2):
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        sess = ort.InferenceSession(blob, so, providers=["CPUExecutionProvider"])

        def embed(batch):
            return with_flips(lambda v: sess.run(None, {"image": v})[0], np.stack([prep.pillow(im) for im in batch]))

        for name, cmd, size, count in (("batch 1 (per photo)", "Embed1", 1, 200), ("batch 32 (per batch)", "Embed32", BATCH, 10)):
            def peer(n, size=size):
                out = []
                for i in range(n):
                    start = i % len(images) if size == 1 else (i * size) % (len(images) - size + 1)
                    t = time.perf_counter()
                    embed(images[start:start + size])
                    out.append((time.perf_counter() - t) * 1e3)
                return out

            peer(20 if size == 1 else 3)  # warm-up
            om, tm, ratio, won = interleave(cmd, threads, count, peer)
            print(f"{name:<22}{threads:>8}{om:>12.3f}{tm:>10.3f}{ratio:>8.2f}{won:>8}/{args.rounds}"
                  f"{size * 1000 / om:>15.0f}{size * 1000 / tm:>11.0f}")

    if args.no_identify:
        pipe.stdin.close()
        pipe.wait()
        return
    print(f"\nidentify one query among N unit {DIM}-vectors, one thread: dlserve vs NumPy (|g|^2 - 2 G @ q, argmin)")
    print(f"{'N':>10}{'dlserve ms':>12}{'numpy ms':>10}{'ratio':>8}{'rounds won':>12}")
    under = {}
    for n, count in GALLERIES.items():
        rng = np.random.default_rng(n)
        gallery = rng.standard_normal((n, DIM), dtype=np.float32)
        gallery /= np.linalg.norm(gallery, axis=1, keepdims=True)
        norms = (gallery * gallery).sum(1)
        queries = rng.standard_normal((64, DIM), dtype=np.float32)
        queries /= np.linalg.norm(queries, axis=1, keepdims=True)
        brute = np.argmin(((gallery[:2000] - queries[0]) ** 2).sum(1))
        assert brute == np.argmin(norms[:2000] - 2 * (gallery[:2000] @ queries[0]))

        def peer(k):
            out = []
            for i in range(k):
                q = queries[i % len(queries)]
                t = time.perf_counter()
                int(np.argmin(norms - 2 * (gallery @ q)))
                out.append((time.perf_counter() - t) * 1e3)
            return out

        peer(3)
        om, tm, ratio, won = interleave("Identify", n, count, peer)
        under[n] = (om, tm)
        print(f"{n:>10,}{om:>12.3f}{tm:>10.3f}{ratio:>8.2f}{won:>8}/{args.rounds}")
        del gallery, norms
    if 100_000 in under:
        om, tm = under[100_000]
        print(f"N = 100,000 under 5 ms: dlserve {'yes' if om < 5 else 'NO'} ({om:.2f} ms), NumPy {'yes' if tm < 5 else 'no'} ({tm:.2f} ms)")
    pipe.stdin.close()
    pipe.wait()


if __name__ == "__main__":
    main()
