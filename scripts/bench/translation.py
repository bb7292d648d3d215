#!/usr/bin/env python3
"""The shipped translation model (models/translate-en-es) against a PyTorch twin,
in alternating rounds.

The twin is the same post-norm transformer (model.json read layer by layer:
embeddings, sinusoidal positions, nn.TransformerEncoderLayer for the encoder,
the decoder layers' weights, the output projection) loaded with
weights.safetensors, whose names are PyTorch's. Decoding does not recompute
the prefix either: each decoder layer keeps its self-attention keys and
values per row and the cross-attention keys and values of the memory, as
fairseq's and Hugging Face's incremental decoders do; greedy and beam search
follow dlserve's rules (top B non-end tokens and the end token per row,
candidates ranked by total log-probability, an end token within the first B
ranks finishes a hypothesis, score = log P / length^alpha, stop when the best
live hypothesis cannot beat the best finished one at max length).

Inputs come from dlserve itself (`dlserve-bench --translation-inputs`): the
source ids of the 600 bench sentences (the fixed slices of both test sets),
dlserve's greedy and beam-4 outputs for them, the 20-word latency sentence
and training batches. Before timing, the twin's translations are compared
with dlserve's (the share that are identical is printed; float rounding may
flip a near tie); below 95% for greedy the script stops.

Then, in rounds alternating dlserve (`dlserve-bench --pipe`) and PyTorch:
batch-1 latency of the 20-word sentence at beam 1 and 4, sentences per
second over the 600 sentences (batches of 32 by length) at beam 1 and 4, and
training tokens per second (one Adam step: forward, label-smoothed loss,
backward, clipping, update) on the same batches, with 1 and 2 threads.
Printed: medians and the median of the per-round ratios (latency: dlserve /
PyTorch, below 1 is faster; throughput: dlserve / PyTorch, above 1 is faster).

usage: translation.py PATH/TO/dlserve-bench [ROUNDS]"""
import json
import math
import os
import statistics
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from weights import load_safetensors  # noqa: E402
import torch
import torch.nn.functional as F
from torch import nn

MODELS = "models/translate-en-es"
BOS, EOS, PAD = 2, 3, 0
BATCH = 32


def latest_version():
    versions = [int(d) for d in os.listdir(MODELS) if d.isdigit() and os.path.exists(os.path.join(MODELS, d, "model.json"))]
    return max(versions)


def positions(length, dim):
    pe = torch.zeros(length, dim)
    for i in range(0, dim, 2):
        freq = math.exp(i * -math.log(10000.0) / dim)
        for r in range(length):
            pe[r, i] = math.sin(r * freq)
            if i + 1 < dim:
                pe[r, i + 1] = math.cos(r * freq)
    return pe


class Twin(nn.Module):
    """model.json of the shipped recipe in PyTorch (dropout off at inference)."""

    def __init__(self, spec, weights, training=False):
        super().__init__()
        layers = spec["layers"]
        by_type = lambda t: [l for l in layers if l["type"] == t]
        emb = {l["inputs"][0]: l for l in by_type("embedding")}
        pos = {l["inputs"][0]: l for l in by_type("positional_encoding")}
        self.scale_src = pos[emb["src"]["name"]].get("attrs", {}).get("scale_input", False)
        self.scale_tgt = pos[emb["tgt"]["name"]].get("attrs", {}).get("scale_input", False)
        for l in by_type("transformer_encoder_layer") + by_type("transformer_decoder_layer"):
            a = l.get("attrs", {})
            assert not a.get("norm_first", False) and a.get("activation", "relu") == "relu", l
        src_w, tgt_w = weights[emb["src"]["name"] + ".weight"], weights[emb["tgt"]["name"] + ".weight"]
        self.dim = src_w.shape[1]
        self.src_embed = nn.Embedding(*src_w.shape, padding_idx=PAD)
        self.tgt_embed = nn.Embedding(*tgt_w.shape, padding_idx=PAD)
        self.src_embed.weight.data.copy_(src_w)
        self.tgt_embed.weight.data.copy_(tgt_w)
        drop = 0.1 if training else 0.0

        def attrs(l):
            a = l.get("attrs", {})
            return dict(d_model=self.dim, nhead=a["num_heads"], dim_feedforward=a.get("dim_feedforward", 2048),
                        dropout=drop, batch_first=True)

        def load(module, prefix):
            module.load_state_dict({k[len(prefix) + 1:]: v for k, v in weights.items() if k.startswith(prefix + ".")}, strict=True)
            return module

        self.encoder = nn.ModuleList(load(nn.TransformerEncoderLayer(**attrs(l)), l["name"]) for l in by_type("transformer_encoder_layer"))
        self.decoder = nn.ModuleList(load(nn.TransformerDecoderLayer(**attrs(l)), l["name"]) for l in by_type("transformer_decoder_layer"))
        self.heads = by_type("transformer_decoder_layer")[0]["attrs"]["num_heads"]
        out = [l for l in layers if l["name"] == spec["outputs"][0]][0]
        w = weights[out["name"] + ".weight"]
        self.out = nn.Linear(w.shape[1], w.shape[0])
        self.out.weight.data.copy_(w)
        self.out.bias.data.copy_(weights[out["name"] + ".bias"])
        self.register_buffer("pe", positions(512, self.dim))

    # Training: the whole teacher-forced graph.
    def forward(self, src, tgt):
        src_pad = src == PAD
        x = self.src_embed(src) * (math.sqrt(self.dim) if self.scale_src else 1) + self.pe[: src.shape[1]]
        x = F.dropout(x, 0.1, self.training)
        for layer in self.encoder:
            x = layer(x, src_key_padding_mask=src_pad)
        t = tgt.shape[1]
        causal = torch.triu(torch.ones(t, t, dtype=torch.bool), 1)
        y = self.tgt_embed(tgt) * (math.sqrt(self.dim) if self.scale_tgt else 1) + self.pe[:t]
        y = F.dropout(y, 0.1, self.training)
        for layer in self.decoder:
            y = layer(y, x, tgt_mask=causal, tgt_key_padding_mask=tgt == PAD, memory_key_padding_mask=src_pad)
        return self.out(y)

    # Inference with caches.
    def split_heads(self, x):
        n, l, e = x.shape
        return x.view(n, l, self.heads, e // self.heads).transpose(1, 2)

    def start(self, sources):
        """sources: list of id lists -> state (rows = sources)."""
        s = max(len(q) for q in sources)
        src = torch.zeros(len(sources), s, dtype=torch.long)
        for i, q in enumerate(sources):
            src[i, : len(q)] = torch.tensor(q)
        pad = src == PAD
        x = self.src_embed(src) * (math.sqrt(self.dim) if self.scale_src else 1) + self.pe[:s]
        for layer in self.encoder:
            x = layer(x, src_key_padding_mask=pad)
        cross = []
        for layer in self.decoder:
            w, b = layer.multihead_attn.in_proj_weight, layer.multihead_attn.in_proj_bias
            e = self.dim
            k = F.linear(x, w[e : 2 * e], b[e : 2 * e])
            v = F.linear(x, w[2 * e :], b[2 * e :])
            cross.append((self.split_heads(k), self.split_heads(v)))
        keep = (~pad).view(len(sources), 1, 1, s)
        return {"cross": cross, "keep": keep, "rows": torch.arange(len(sources)), "self": [None] * len(self.decoder), "t": 0}

    def step(self, state, keeping, tokens):
        rows = torch.tensor(keeping, dtype=torch.long)
        src_rows = state["rows"][rows]
        e = self.dim
        y = self.tgt_embed(torch.tensor(tokens).view(-1, 1)) * (math.sqrt(self.dim) if self.scale_tgt else 1)
        y = y + self.pe[state["t"] : state["t"] + 1]
        caches = []
        for j, layer in enumerate(self.decoder):
            sa = layer.self_attn
            qkv = F.linear(y, sa.in_proj_weight, sa.in_proj_bias)
            q, k, v = (self.split_heads(z) for z in qkv.split(e, dim=2))
            if state["self"][j] is not None:
                pk, pv = state["self"][j]
                k = torch.cat([pk[rows], k], dim=2)
                v = torch.cat([pv[rows], v], dim=2)
            caches.append((k, v))
            a = F.scaled_dot_product_attention(q, k, v)
            a = sa.out_proj(a.transpose(1, 2).reshape(len(keeping), 1, e))
            y = layer.norm1(y + a)
            ca = layer.multihead_attn
            q = self.split_heads(F.linear(y, ca.in_proj_weight[:e], ca.in_proj_bias[:e]))
            ck, cv = state["cross"][j]
            a = F.scaled_dot_product_attention(q, ck[src_rows], cv[src_rows], attn_mask=state["keep"][src_rows])
            a = ca.out_proj(a.transpose(1, 2).reshape(len(keeping), 1, e))
            y = layer.norm2(y + a)
            y = layer.norm3(y + layer.linear2(F.relu(layer.linear1(y))))
        logp = F.log_softmax(self.out(y.view(len(keeping), e)), dim=-1)
        return logp, {"cross": state["cross"], "keep": state["keep"], "rows": src_rows, "self": caches, "t": state["t"] + 1}


class RNNTwin(nn.Module):
    """The RNN encoder-decoder of recipes/translate-en-es-rnn.json in PyTorch:
    embeddings, a bidirectional GRU encoder (packed, so each direction sees
    only the real tokens), a GRU decoder carried one token at a time, additive
    attention e_j = v^T tanh(W_a s + U_a h_j) over the real source tokens,
    tanh(dense([s; context])), logits. Dropout off at inference."""

    def __init__(self, spec, weights, training=False):
        super().__init__()
        layers = {l["name"]: l for l in spec["layers"]}
        by_type = lambda t: [l for l in spec["layers"] if l["type"] == t]
        emb = {l["inputs"][0]: l for l in by_type("embedding")}
        grus = by_type("gru")
        enc = [g for g in grus if g.get("attrs", {}).get("bidirectional", False)][0]
        dec = [g for g in grus if not g.get("attrs", {}).get("bidirectional", False)][0]
        att = by_type("additive_attention")[0]
        dense = [l for l in by_type("dense") if l["name"] != spec["outputs"][0]][0]
        out = layers[spec["outputs"][0]]
        src_w, tgt_w = weights[emb["src"]["name"] + ".weight"], weights[emb["tgt"]["name"] + ".weight"]
        self.src_embed = nn.Embedding(*src_w.shape, padding_idx=PAD)
        self.tgt_embed = nn.Embedding(*tgt_w.shape, padding_idx=PAD)
        self.src_embed.weight.data.copy_(src_w)
        self.tgt_embed.weight.data.copy_(tgt_w)
        hid = enc["attrs"]["hidden_size"]
        self.encoder = nn.GRU(src_w.shape[1], hid, batch_first=True, bidirectional=True)
        self.decoder = nn.GRU(tgt_w.shape[1], dec["attrs"]["hidden_size"], batch_first=True)
        for module, name in ((self.encoder, enc["name"]), (self.decoder, dec["name"])):
            module.load_state_dict({k[len(name) + 1:]: v for k, v in weights.items() if k.startswith(name + ".")}, strict=True)
        a = att["name"]
        self.query_proj = nn.Linear(*reversed(weights[a + ".query_proj.weight"].shape), bias=False)
        self.key_proj = nn.Linear(*reversed(weights[a + ".key_proj.weight"].shape), bias=(a + ".key_proj.bias") in weights)
        self.v = nn.Linear(weights[a + ".v.weight"].shape[1], 1, bias=False)
        self.query_proj.weight.data.copy_(weights[a + ".query_proj.weight"])
        self.key_proj.weight.data.copy_(weights[a + ".key_proj.weight"])
        if self.key_proj.bias is not None:
            self.key_proj.bias.data.copy_(weights[a + ".key_proj.bias"])
        self.v.weight.data.copy_(weights[a + ".v.weight"])
        self.attentional = nn.Linear(*reversed(weights[dense["name"] + ".weight"].shape))
        self.attentional.weight.data.copy_(weights[dense["name"] + ".weight"])
        self.attentional.bias.data.copy_(weights[dense["name"] + ".bias"])
        self.out = nn.Linear(*reversed(weights[out["name"] + ".weight"].shape))
        self.out.weight.data.copy_(weights[out["name"] + ".weight"])
        self.out.bias.data.copy_(weights[out["name"] + ".bias"])
        self.drop = 0.1 if training else 0.0

    def encode(self, src):
        lengths = (src != PAD).sum(1)
        x = F.dropout(self.src_embed(src), self.drop, self.training)
        packed = nn.utils.rnn.pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        memory, _ = self.encoder(packed)
        memory, _ = nn.utils.rnn.pad_packed_sequence(memory, batch_first=True, total_length=src.shape[1])
        return memory, src != PAD

    def attend(self, s, memory, keys, keep):
        """s [n, T, H], memory [n, S, Dk], keys U_a h [n, S, A], keep [n, S]."""
        e = self.v(torch.tanh(self.query_proj(s).unsqueeze(2) + keys.unsqueeze(1))).squeeze(-1)  # [n, T, S]
        e = e.masked_fill(~keep.unsqueeze(1), float("-inf"))
        return torch.softmax(e, dim=-1) @ memory

    def head(self, s, context):
        h = torch.tanh(self.attentional(torch.cat([s, context], dim=-1)))
        return self.out(F.dropout(h, self.drop, self.training))

    # Training: the whole teacher-forced graph (the target's padding at the end only).
    def forward(self, src, tgt):
        memory, keep = self.encode(src)
        s, _ = self.decoder(F.dropout(self.tgt_embed(tgt), self.drop, self.training))
        return self.head(s, self.attend(s, memory, self.key_proj(memory), keep))

    def start(self, sources):
        s = max(len(q) for q in sources)
        src = torch.zeros(len(sources), s, dtype=torch.long)
        for i, q in enumerate(sources):
            src[i, : len(q)] = torch.tensor(q)
        memory, keep = self.encode(src)
        return {"memory": memory, "keys": self.key_proj(memory), "keep": keep, "rows": torch.arange(len(sources)),
                "h": torch.zeros(1, len(sources), self.decoder.hidden_size)}

    def step(self, state, keeping, tokens):
        rows = torch.tensor(keeping, dtype=torch.long)
        src_rows = state["rows"][rows]
        s, h = self.decoder(self.tgt_embed(torch.tensor(tokens).view(-1, 1)), state["h"][:, rows])
        context = self.attend(s, state["memory"][src_rows], state["keys"][src_rows], state["keep"][src_rows])
        logp = F.log_softmax(self.head(s, context).view(len(keeping), -1), dim=-1)
        return logp, {"memory": state["memory"], "keys": state["keys"], "keep": state["keep"], "rows": src_rows, "h": h}


def twin_class(spec):
    return Twin if any(l["type"] == "transformer_decoder_layer" for l in spec["layers"]) else RNNTwin


def length_normalized(logp, length, alpha):
    return logp if alpha == 0 or length == 0 else logp / length ** alpha


class Greedy:
    def __init__(self, max_length, alpha):
        self.max_length, self.alpha = max_length, alpha
        self.tokens, self.parents, self.hyp, self.result = [BOS], [0], [], None

    def advance(self, logp):
        best = int(np.argmax(logp[0]))
        self.hyp.append(best)
        if best == EOS or len(self.hyp) >= self.max_length:
            self.result = self.hyp[:-1] if best == EOS else self.hyp
            self.parents, self.tokens = [], []
        else:
            self.parents, self.tokens = [0], [best]


class Beam:
    def __init__(self, width, max_length, alpha):
        self.width, self.max_length, self.alpha = width, max_length, alpha
        self.live = [([], 0.0)]
        self.finished = []  # (score, tokens, ended)
        self.parents, self.tokens = [0], [BOS]

    def advance(self, logp):
        w = self.width
        cands = []
        for row, (toks, lp) in enumerate(self.live):
            r = logp[row]
            masked = r.copy()
            masked[EOS] = -np.inf
            top = np.argpartition(-masked, w)[:w]
            top = top[np.lexsort((top, -masked[top]))]
            for t in top:
                if masked[t] > -np.inf:
                    cands.append((lp + float(r[t]), row, int(t), float(r[t])))
            if r[EOS] > -np.inf:
                cands.append((lp + float(r[EOS]), row, EOS, float(r[EOS])))
        cands.sort(key=lambda c: (-c[0], c[1], c[2]))
        live, parents = [], []
        for rank, (total, row, t, p) in enumerate(cands):
            if len(live) == w:
                break
            toks = self.live[row][0] + [t]
            if t == EOS:
                if rank < w:
                    self.insert((length_normalized(total, len(toks), self.alpha), toks[:-1]))
            else:
                live.append((toks, total))
                parents.append(row)
        if live and len(live[0][0]) >= self.max_length:
            for toks, total in live:
                self.insert((length_normalized(total, len(toks), self.alpha), toks))
            live = []
        if live and self.finished:
            bound = max(length_normalized(lp, self.max_length, self.alpha) for _, lp in live)
            if self.finished[0][0] >= bound:
                live = []
        self.live = live
        self.parents = parents if live else []
        self.tokens = [toks[-1] for toks, _ in live]

    def insert(self, h):
        self.finished.append(h)
        self.finished.sort(key=lambda x: -x[0])
        del self.finished[1:]

    @property
    def result(self):
        return self.finished[0][1] if self.finished else []


@torch.inference_mode()
def translate(twin, sources, beam, alpha):
    order = sorted(range(len(sources)), key=lambda i: len(sources[i]))
    out = [None] * len(sources)
    for c in range(0, len(order), BATCH):
        idx = order[c : c + BATCH]
        chunk = [sources[i] for i in idx]
        searches = [Greedy(min(512, 2 * len(q) + 10), alpha) if beam == 1 else Beam(beam, min(512, 2 * len(q) + 10), alpha)
                    for q in chunk]
        state = twin.start(chunk)
        first = list(range(len(chunk)))
        while True:
            active = [s for s in range(len(chunk)) if searches[s].parents]
            if not active:
                break
            keeping, tokens, next_first = [], [], list(first)
            for s in active:
                next_first[s] = len(keeping)
                keeping += [first[s] + p for p in searches[s].parents]
                tokens += searches[s].tokens
            logp, state = twin.step(state, keeping, tokens)
            values = logp.numpy()
            for s in active:
                n = len(searches[s].parents)
                searches[s].advance(values[next_first[s] : next_first[s] + n])
            first = next_first
        for i, s in zip(idx, searches):
            out[i] = s.result
    return out


def train_steps(spec, weights, batches, count):
    torch.manual_seed(1)
    twin = twin_class(spec)(spec, weights, training=True)
    for p in twin.parameters():
        nn.init.uniform_(p, -0.05, 0.05)
    twin.train()
    opt = torch.optim.Adam(twin.parameters(), lr=1e-4, betas=(0.9, 0.98), eps=1e-9)
    ms, tokens = [], 0
    for i in range(count):
        b = batches[i % len(batches)]
        srcs, tgts = b[0::2], b[1::2]
        s, t = max(map(len, srcs)), max(map(len, tgts))
        src = torch.zeros(len(srcs), s, dtype=torch.long)
        tgt = torch.zeros(len(tgts), t, dtype=torch.long)
        for r, (q, y) in enumerate(zip(srcs, tgts)):
            src[r, : len(q)] = torch.tensor(q)
            tgt[r, : len(y)] = torch.tensor(y)
        tokens += sum(map(len, srcs)) + sum(len(y) - 1 for y in tgts)
        start = time.perf_counter()
        logits = twin(src, tgt[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tgt[:, 1:].reshape(-1), ignore_index=PAD, label_smoothing=0.1)
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(twin.parameters(), 1.0)
        opt.step()
        ms.append((time.perf_counter() - start) * 1e3)
    return ms, tokens


def main():
    binary = sys.argv[1]
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    if not os.path.isdir(MODELS) or not any(d.isdigit() for d in os.listdir(MODELS)):
        print(f"translate-en-es: skipped (no model under {MODELS}; make train-translation)")
        return
    version = latest_version()
    d = os.path.join(MODELS, str(version))
    spec = json.load(open(os.path.join(d, "model.json")))
    weights = {k: torch.from_numpy(v) for k, v in load_safetensors(os.path.join(d, "weights.safetensors")).items()}
    inputs = json.loads(subprocess.run([binary, "--translation-inputs"], capture_output=True, text=True, check=True).stdout)
    assert inputs["version"] == version
    twin = twin_class(spec)(spec, weights).eval()
    sources, alpha = inputs["sources"], inputs["length_penalty"]
    for beam, key, need in ((1, "greedy", 0.95), (4, "beam4", 0.0)):
        ours = translate(twin, sources, beam, alpha)
        same = sum(a == b for a, b in zip(ours, inputs[key])) / len(sources)
        print(f"twin vs dlserve, beam {beam}: {same:.1%} of {len(sources)} translations identical")
        if same < need:
            sys.exit("the twin does not compute what dlserve computes; not timing")
    latency_source = [sources[inputs["latency_sentence"]]]
    batches = inputs["train_batches"]

    proc = subprocess.Popen([binary, "--pipe"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def dlserve(cmd, threads, count):
        proc.stdin.write(f"{cmd} {threads} {count}\n")
        proc.stdin.flush()
        line = proc.stdout.readline()
        if not line or line.startswith("error"):
            sys.exit(f"dlserve-bench --pipe: {line.strip() or 'no answer'}")
        return [float(x) for x in line.split()]

    def torch_latency(beam, count):
        translate(twin, latency_source, beam, alpha)
        out = []
        for _ in range(count):
            t = time.perf_counter()
            translate(twin, latency_source, beam, alpha)
            out.append((time.perf_counter() - t) * 1e3)
        return out

    def torch_set(beam):
        t = time.perf_counter()
        translate(twin, sources, beam, alpha)
        return time.perf_counter() - t

    n = len(sources)
    rows = []
    for threads in (1, 2):
        torch.set_num_threads(threads)
        results = {}
        for r in range(rounds):
            for label, ours, theirs, higher_better in (
                ("b1 latency ms, beam 1", lambda: statistics.median(dlserve("MT1", threads, 10)), lambda: statistics.median(torch_latency(1, 10)), False),
                ("b1 latency ms, beam 4", lambda: statistics.median(dlserve("MT4", threads, 10)), lambda: statistics.median(torch_latency(4, 10)), False),
                ("sentences/s, beam 1", lambda: n / dlserve("MTSet1", threads, 1)[0], lambda: n / torch_set(1), True),
                ("sentences/s, beam 4", lambda: n / dlserve("MTSet4", threads, 1)[0], lambda: n / torch_set(4), True),
                ("train tokens/s", lambda: (lambda v: v[-1] / (sum(v[:-1]) / 1e3))(dlserve("MTTrain", threads, 4)),
                 lambda: (lambda m, t: t / (sum(m) / 1e3))(*train_steps(spec, weights, batches, 4)), True),
            ):
                a, b = ours(), theirs()
                results.setdefault(label, []).append((a, b, a / b))
        for label, v in results.items():
            rows.append((label, threads, statistics.median(x[0] for x in v), statistics.median(x[1] for x in v),
                         statistics.median(x[2] for x in v)))
    proc.stdin.close()
    proc.wait()
    print(f"translate-en-es version {version}: {n} test sentences (the fixed slices), alpha {alpha}, {rounds} alternating rounds")
    print(f"{'measure':<24} {'threads':>7} {'dlserve':>10} {'PyTorch':>10} {'ratio':>7}")
    for label, threads, a, b, ratio in rows:
        print(f"{label:<24} {threads:>7} {a:>10.1f} {b:>10.1f} {ratio:>7.2f}")
    print("ratio = dlserve / PyTorch (latency: below 1 is faster; sentences/s and tokens/s: above 1 is faster)")


if __name__ == "__main__":
    main()
