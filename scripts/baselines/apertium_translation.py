#!/usr/bin/env python3
"""The rule-based peer for translation: Apertium eng-spa on each test set.

Apertium (Debian apertium-eng-spa) translates the English side of
data/translate-en-es/{bible,libreoffice}/test.tsv; sacrebleu scores the output
against the Spanish side with its defaults: BLEU (13a tokenization, mixed case,
'exp' smoothing) and chrF (character order 6, beta 2, no word n-grams).
One JSON line per test set on stdout.

Line alignment
    Apertium treats a newline that ends no sentence as a space: it reorders
    words across it ("...that you want to sort\\nClick OK" comes back as
    "...que te quiere Clic\\nde clase VALE"), so lines shift. A line that does
    not end in . ! ? (before closing quotes or brackets) gets a " ." appended, and the output line loses its
    last "." again; the script checks that the output has as many lines as the
    input and that every such line still ends in ".", and stops otherwise.
    Unknown words are printed without Apertium's "*" mark (-u).

Outputs
    data/translate-en-es/apertium/{bible,libreoffice}.test.es  one line per
    test line (the fixture script reads them).

Usage
    python3 scripts/baselines/apertium_translation.py [--data DIR] [--limit N]
"""
import argparse
import json
import os
import subprocess
import sys
import time

import sacrebleu

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TEST_SETS = ("bible", "libreoffice")
FINAL = (".", "!", "?")
CLOSERS = "\"'”’»)]"
MARK = " ."


def read_pairs(path: str):
    en, es = [], []
    with open(path, encoding="utf-8") as f:
        for line in f:
            e, s = line.rstrip("\n").split("\t")
            en.append(e)
            es.append(s)
    return en, es


def apertium(lines):
    """Translates lines one to one (see "Line alignment" above)."""
    marked = [not l.rstrip().rstrip(CLOSERS).endswith(FINAL) for l in lines]
    src = "".join(l + (MARK if m else "") + "\n" for l, m in zip(lines, marked))
    r = subprocess.run(["apertium", "-u", "eng-spa"], input=src.encode("utf-8"),
                       capture_output=True, check=True)
    out = r.stdout.decode("utf-8").split("\n")
    if out and out[-1] == "":
        out.pop()
    if len(out) != len(lines):
        sys.exit(f"error: apertium gave {len(out)} lines for {len(lines)}")
    hyps = []
    for n, (o, m) in enumerate(zip(out, marked), 1):
        o = o.rstrip()
        if m:
            if not o.endswith("."):
                sys.exit(f"error: line {n}: the added period is gone: {o!r}")
            o = o[:-1].rstrip()
        hyps.append(" ".join(o.split()))
    return hyps


def write_atomic(path: str, text: str) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)
    os.replace(tmp, path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=os.path.join(REPO_ROOT, "data", "translate-en-es"))
    ap.add_argument("--limit", type=int, default=0, help="only the first N lines of each test set")
    args = ap.parse_args()

    version = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "apertium-eng-spa"],
                             capture_output=True, text=True).stdout.strip()
    for name in TEST_SETS:
        en, es = read_pairs(os.path.join(args.data, name, "test.tsv"))
        if args.limit:
            en, es = en[:args.limit], es[:args.limit]
        t0 = time.time()
        hyps = apertium(en)
        seconds = time.time() - t0
        if not args.limit:
            write_atomic(os.path.join(args.data, "apertium", f"{name}.test.es"),
                         "".join(h + "\n" for h in hyps))
        bleu = sacrebleu.metrics.BLEU()
        chrf = sacrebleu.metrics.CHRF()
        b = bleu.corpus_score(hyps, [es])
        c = chrf.corpus_score(hyps, [es])
        print(json.dumps({
            "test_set": name, "system": f"apertium eng-spa {version}", "lines": len(en),
            "bleu": round(b.score, 2), "chrf": round(c.score, 2),
            "bleu_precisions": [round(p, 1) for p in b.precisions], "bp": round(b.bp, 3),
            "bleu_signature": str(bleu.get_signature()), "chrf_signature": str(chrf.get_signature()),
            "seconds": round(seconds, 1),
        }), flush=True)


if __name__ == "__main__":
    main()
