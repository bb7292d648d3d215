#!/usr/bin/env python3
"""The shipped sentiment model (models/sentiment-rt/1) against onnxruntime and
PyTorch eager, in alternating rounds.

The peers run a PyTorch twin of the graph: nn.Embedding(padding_idx=0) ->
nn.GRU(bidirectional, batch_first) over packed sequences -> max and mean over
the real steps -> concatenated -> nn.Linear, loaded with the weights of
weights.safetensors (whose names are PyTorch's already). onnxruntime runs the
twin exported to ONNX (its GRU takes the lengths as `sequence_lens`).

Inputs are the test split's sentences (data/sentiment-rt/test.tsv), tokenized
by dlserve itself: `dlserve-bench --sentiment-inputs` prints every sentence's
token ids and dlserve's logits for a few sentences alone and for one padded
batch. Before timing anything, the twin and the ONNX model must reproduce
those logits within 1e-4 (the largest difference is printed); otherwise the
script stops.

Then, in rounds that alternate dlserve (`dlserve-bench --pipe`), onnxruntime
and PyTorch (this VM's speed drifts from one second to the next): batch-1
latency over the sentences in file order, and batch-32 throughput over
batches of 32 consecutive sentences padded to the longest, each engine on the
same inputs, with 1 and 2 threads. Printed: medians, the median of the
per-round ratios dlserve/peer (below 1: dlserve faster; for throughput the
ratio is of texts/s, above 1: dlserve faster), and the rounds dlserve won.

usage: sentiment.py PATH/TO/dlserve-bench [ROUNDS]"""
import io
import json
import os
import subprocess
import sys
import time
import warnings

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from weights import load_safetensors  # noqa: E402

# The TorchScript exporter's C++ warnings about PackPadded shape inference are noise here.
os.environ.setdefault("TORCH_CPP_LOG_LEVEL", "ERROR")

MODEL = "models/sentiment-rt/1"
PAUSE = float(os.environ.get("INTERLEAVE_PAUSE", "0.05"))
TOLERANCE = 1e-4
BATCH = 32


def make_twin(weights):
    import torch
    from torch import nn
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

    class Twin(nn.Module):
        """models/sentiment-rt/1/model.json in PyTorch (dropout is the identity at inference)."""

        def __init__(self):
            super().__init__()
            vocab, dim = weights["embed.weight"].shape
            hidden = weights["gru.weight_hh_l0"].shape[1]
            self.embed = nn.Embedding(vocab, dim, padding_idx=0)
            self.gru = nn.GRU(dim, hidden, batch_first=True, bidirectional=True)
            self.logits = nn.Linear(*weights["logits.weight"].shape[::-1])
            self.load_state_dict({k: torch.from_numpy(v) for k, v in weights.items()}, strict=True)

        def forward(self, ids, lengths):
            # ids [N, T] padded with 0 at the end, lengths [N] -> logits [N, 2]
            t = ids.shape[1]
            packed = pack_padded_sequence(self.embed(ids), lengths, batch_first=True, enforce_sorted=False)
            y, _ = pad_packed_sequence(self.gru(packed)[0], batch_first=True, total_length=t)
            mask = (torch.arange(t)[None, :] < lengths[:, None]).unsqueeze(-1)
            pooled_max = y.masked_fill(~mask, float("-inf")).amax(1)
            pooled_mean = (y * mask).sum(1) / lengths[:, None].to(y.dtype)
            return self.logits(torch.cat([pooled_max, pooled_mean], 1))

    return Twin().eval()


def export_onnx(twin):
    import torch

    ids = torch.tensor([[5, 6, 7, 8], [9, 10, 0, 0]])
    lengths = torch.tensor([4, 2])
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # The TorchScript exporter turns pack_padded_sequence into the GRU's sequence_lens.
        torch.onnx.export(twin, (ids, lengths), buf, input_names=["ids", "lengths"], output_names=["logits"],
                          dynamic_axes={"ids": {0: "N", 1: "T"}, "lengths": {0: "N"}, "logits": {0: "N"}},
                          opset_version=17, dynamo=False)
    return buf.getvalue()


def padded(texts, j):
    rows = [texts[(j * BATCH + r) % len(texts)] for r in range(BATCH)]
    t = max(map(len, rows))
    ids = np.zeros((BATCH, t), np.int64)
    for r, row in enumerate(rows):
        ids[r, :len(row)] = row
    return ids, np.array([len(r) for r in rows], np.int64)


def single(texts, i):
    row = texts[i % len(texts)]
    return np.array([row], np.int64), np.array([len(row)], np.int64)


def check(name, run, inputs):
    """Largest |logit difference| against dlserve; exits beyond TOLERANCE."""
    diff = 0.0
    for i, expected in enumerate(inputs["alone"]):
        diff = max(diff, float(np.abs(run(*single(inputs["texts"], i)) - np.asarray(expected)).max()))
    diff = max(diff, float(np.abs(run(*padded(inputs["texts"], 0)) - np.asarray(inputs["batch0"])).max()))
    verdict = "ok" if diff <= TOLERANCE else "FAILED"
    print(f"  {name:<12} max |logit - dlserve's| = {diff:.2e} over {len(inputs['alone'])} sentences alone "
          f"and one padded batch of {BATCH}: {verdict}")
    if diff > TOLERANCE:
        sys.exit(f"sentiment.py: {name} does not reproduce dlserve's logits (max abs diff {diff:.2e} > {TOLERANCE})")


def main():
    binary = sys.argv[1]
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    import onnxruntime as ort
    import torch

    got = subprocess.run([binary, "--sentiment-inputs"], capture_output=True, text=True)
    if got.returncode != 0:
        sys.exit(f"sentiment.py: {binary} --sentiment-inputs: {got.stderr.strip()}")
    inputs = json.loads(got.stdout)
    texts = inputs["texts"]

    twin = make_twin(load_safetensors(os.path.join(MODEL, "weights.safetensors")))
    blob = export_onnx(twin)

    def torch_run(ids, lengths):
        with torch.inference_mode():
            return twin(torch.from_numpy(ids), torch.from_numpy(lengths)).numpy()

    def session(threads):
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        return ort.InferenceSession(blob, so, providers=["CPUExecutionProvider"])

    print(f"sentiment-rt: the PyTorch twin and its ONNX export against dlserve's logits")
    check("PyTorch", torch_run, inputs)
    sess = session(1)
    check("onnxruntime", lambda ids, lengths: sess.run(None, {"ids": ids, "lengths": lengths})[0], inputs)

    proc = subprocess.Popen([binary, "--pipe"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def dlserve(name, threads, count):
        proc.stdin.write(f"{name} {threads} {count}\n")
        proc.stdin.flush()
        line = proc.stdout.readline()
        if not line or line.startswith("error"):
            sys.exit(f"dlserve-bench --pipe: {line.strip() or 'no answer'}")
        return [float(v) for v in line.split()]

    def timed(run, make, count):
        xs = [make(texts, i) for i in range(count)]
        out = []
        for ids, lengths in xs:
            t = time.perf_counter()
            run(ids, lengths)
            out.append((time.perf_counter() - t) * 1e3)
        return out

    mean_len = sum(map(len, texts)) / len(texts)
    print(f"sentiment-rt, {len(texts)} test sentences (mean {mean_len:.1f} tokens), {rounds} interleaved rounds; "
          f"onnxruntime {ort.__version__}, PyTorch {torch.__version__} eager")
    print(f"{'':<10}{'threads':>8}{'dlserve':>10}{'ort':>10}{'torch':>10}{'vs ort':>8}{'won':>7}{'vs torch':>10}{'won':>7}")
    for label, pipe_name, make, count in (("b1 ms", "Sentiment", single, 200), ("b32 txt/s", "Sentiment32", padded, 12)):
        for threads in (1, 2):
            torch.set_num_threads(threads)
            sess = session(threads)
            ort_run = lambda ids, lengths: sess.run(None, {"ids": ids, "lengths": lengths})
            for run in (ort_run, torch_run):
                timed(run, make, 10)
            samples = {"dlserve": [], "ort": [], "torch": []}
            ratios = {"ort": [], "torch": []}
            for _ in range(rounds):
                time.sleep(PAUSE)
                o = timed(ort_run, make, count)
                time.sleep(PAUSE)
                p = timed(torch_run, make, count)
                time.sleep(PAUSE)
                d = dlserve(pipe_name, threads, count)
                for k, v in (("dlserve", d), ("ort", o), ("torch", p)):
                    samples[k] += v
                for k, v in (("ort", o), ("torch", p)):
                    ratios[k].append(np.median(d) / np.median(v))
            if make is single:
                fig = {k: np.median(v) for k, v in samples.items()}
                rat = {k: np.median(v) for k, v in ratios.items()}
                won = {k: sum(r <= 1 for r in v) for k, v in ratios.items()}
                fmt = "{:>10.3f}"
            else:
                # Throughput: texts per second of the median batch; ratios dlserve/peer of texts/s.
                fig = {k: BATCH * 1e3 / np.median(v) for k, v in samples.items()}
                rat = {k: 1 / np.median(v) for k, v in ratios.items()}
                won = {k: sum(r <= 1 for r in v) for k, v in ratios.items()}
                fmt = "{:>10.0f}"
            print(f"{label:<10}{threads:>8}" + "".join(fmt.format(fig[k]) for k in ("dlserve", "ort", "torch"))
                  + f"{rat['ort']:>8.2f}{won['ort']:>4}/{rounds:<2}{rat['torch']:>10.2f}{won['torch']:>4}/{rounds:<2}")
    proc.stdin.close()
    proc.wait()


if __name__ == "__main__":
    main()
