#!/usr/bin/env python3
"""The fixed 300-sentence slices of the translation test sets that `make test` scores.

Line i*N//300 (i = 0..299) of data/translate-en-es/{bible,libreoffice}/test.tsv:
evenly spread over books and pages. Written to
Tests/DLTrainTests/Fixtures/translation/{bible,libreoffice}.tsv (checked in, so
the test needs no Debian data packages); rerun after the data preparation changes.
"""
import os

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COUNT = 300

for name in ("bible", "libreoffice"):
    with open(os.path.join(REPO_ROOT, "data", "translate-en-es", name, "test.tsv"), encoding="utf-8") as f:
        lines = f.read().splitlines()
    picked = [lines[i * len(lines) // COUNT] for i in range(COUNT)]
    out = os.path.join(REPO_ROOT, "Tests", "DLTrainTests", "Fixtures", "translation", f"{name}.tsv")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out + ".tmp", "w", encoding="utf-8", newline="\n") as f:
        f.write("".join(l + "\n" for l in picked))
    os.replace(out + ".tmp", out)
    print(f"{out}: {len(picked)} of {len(lines)} lines")
