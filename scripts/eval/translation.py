#!/usr/bin/env python3
"""dlserve's translation model beside Apertium on each test set, in one run.

For data/translate-en-es/{bible,libreoffice}/test.tsv: `dlserve eval` translates
the English side with the shipped model (beam search) and scores BLEU and chrF
with its own implementation; the script rescores the same translations with
sacrebleu (the two must agree within 0.1) and runs Apertium eng-spa on the same
lines (scripts/baselines/apertium_translation.py). Prints a table; with
--write-metrics, adds a "test" section (dlserve's and Apertium's scores per test
set, and dlserve's on the fixed 300-sentence slice of each that `make test`
checks, Tests/DLTrainTests/Fixtures/translation/) to the version's metrics.json
(atomically).

Usage
    python3 scripts/eval/translation.py [--model models/translate-en-es] [--version N]
        [--beam-width 4] [--length-penalty 0.7] [--limit N] [--write-metrics]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import sacrebleu

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO_ROOT, "scripts", "baselines"))
import apertium_translation as peer  # noqa: E402

SLICES = os.path.join(REPO_ROOT, "Tests", "DLTrainTests", "Fixtures", "translation")


def latest_version(model_dir: str) -> int:
    versions = [int(d) for d in os.listdir(model_dir) if d.isdigit() and os.path.exists(os.path.join(model_dir, d, "model.json"))]
    if not versions:
        sys.exit(f"error: no version with model.json under {model_dir}")
    return max(versions)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default=os.path.join(REPO_ROOT, "models", "translate-en-es"))
    ap.add_argument("--version", type=int)
    ap.add_argument("--data", default=os.path.join(REPO_ROOT, "data", "translate-en-es"))
    ap.add_argument("--bin", default=os.environ.get("DLSERVE_BIN", os.path.join(REPO_ROOT, ".build", "release", "dlserve")))
    ap.add_argument("--beam-width", type=int, default=4)
    ap.add_argument("--length-penalty", type=float, default=0.7)
    ap.add_argument("--limit", type=int, default=0, help="only the first N lines of each test set")
    ap.add_argument("--threads", type=int, default=1, help="BLAS threads of each dlserve eval (the files run in parallel)")
    ap.add_argument("--write-metrics", action="store_true")
    args = ap.parse_args()

    version = args.version or latest_version(args.model)
    apertium_version = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "apertium-eng-spa"],
                                      capture_output=True, text=True).stdout.strip()
    results = {}
    def dlserve_eval(jobs):
        """Runs `dlserve eval` on several files at once (one process each, --threads apiece):
        [(key, path, limit)] -> {key: (its JSON, its translations)}."""
        with tempfile.TemporaryDirectory() as tmp:
            running = {}
            for key, path, limit in jobs:
                out = os.path.join(tmp, f"{key}.es")
                cmd = [args.bin, "eval", "--model", args.model, "--version", str(version), "--data", path,
                       "--beam-width", str(args.beam_width), "--length-penalty", str(args.length_penalty),
                       "--threads", str(args.threads), "--translations", out]
                if limit:
                    cmd += ["--limit", str(limit)]
                running[key] = (subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True), out)
            done = {}
            for key, (proc, out) in running.items():
                stdout, stderr = proc.communicate()
                if proc.returncode != 0:
                    sys.exit(f"error: dlserve eval {key}: {stderr.strip()}")
                with open(out, encoding="utf-8") as f:
                    done[key] = (json.loads(stdout), [l.rstrip("\n") for l in f])
            return done

    jobs = [(name, os.path.join(args.data, name, "test.tsv"), args.limit) for name in peer.TEST_SETS]
    if not args.limit:
        jobs += [(name + ".slice", os.path.join(SLICES, f"{name}.tsv"), 0) for name in peer.TEST_SETS]
    evaluated = dlserve_eval(jobs)
    for name in peer.TEST_SETS:
        path = os.path.join(args.data, name, "test.tsv")
        en, es = peer.read_pairs(path)
        if args.limit:
            en, es = en[:args.limit], es[:args.limit]
        ours, hyps = evaluated[name]
        sb = sacrebleu.metrics.BLEU().corpus_score(hyps, [es]).score
        sc = sacrebleu.metrics.CHRF().corpus_score(hyps, [es]).score
        if abs(sb - ours["bleu"]) > 0.1 or abs(sc - ours["chrf"]) > 0.1:
            sys.exit(f"error: {name}: dlserve's BLEU/chrF {ours['bleu']:.2f}/{ours['chrf']:.2f} differ from sacrebleu's {sb:.2f}/{sc:.2f}")
        hyps_peer = peer.apertium(en)
        pb = sacrebleu.metrics.BLEU().corpus_score(hyps_peer, [es]).score
        pc = sacrebleu.metrics.CHRF().corpus_score(hyps_peer, [es]).score
        results[name] = {
            "sentences": len(en),
            "dlserve": {"bleu": round(ours["bleu"], 2), "chrf": round(ours["chrf"], 2),
                        "beam_width": args.beam_width, "length_penalty": args.length_penalty,
                        "sentences_per_second": round(ours["sentences_per_second"], 2)},
            "apertium": {"system": f"apertium eng-spa {apertium_version}", "bleu": round(pb, 2), "chrf": round(pc, 2)},
        }
        if not args.limit:
            sl, _ = evaluated[name + ".slice"]
            results[name]["slice"] = {"file": f"Tests/DLTrainTests/Fixtures/translation/{name}.tsv", "sentences": sl["count"],
                                      "bleu": sl["bleu"], "chrf": sl["chrf"]}

    print(f"translate-en-es version {version}, beam {args.beam_width}, alpha {args.length_penalty}"
          + (f", first {args.limit} lines" if args.limit else ""))
    print(f"{'test set':<12} {'lines':>6} {'dlserve BLEU':>12} {'Apertium BLEU':>13} {'ratio':>6} {'dlserve chrF':>12} {'Apertium chrF':>13}")
    for name, r in results.items():
        d, a = r["dlserve"], r["apertium"]
        print(f"{name:<12} {r['sentences']:>6} {d['bleu']:>12.2f} {a['bleu']:>13.2f} {d['bleu'] / max(a['bleu'], 1e-9):>6.2f}"
              f" {d['chrf']:>12.2f} {a['chrf']:>13.2f}")
    print(json.dumps(results))

    if args.write_metrics:
        if args.limit:
            sys.exit("error: --write-metrics needs the whole test sets (no --limit)")
        path = os.path.join(args.model, str(version), "metrics.json")
        with open(path, encoding="utf-8") as f:
            metrics = json.load(f)
        metrics["test"] = results
        tmp = path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(metrics, f, indent=2, sort_keys=True)
            f.write("\n")
        os.replace(tmp, path)
        print(f"wrote the test section of {path}")


if __name__ == "__main__":
    main()
