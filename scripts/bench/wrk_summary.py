#!/usr/bin/env python3
"""Reads `wrk --latency` output on stdin and prints "req/s p50_ms p99_ms non2xx"
(what scripts/bench-http.sh and scripts/bench-jobs.sh tabulate)."""
import re
import sys

text = sys.stdin.read()


def ms(label):
    m = re.search(r"^\s*%s%%\s+([\d.]+)(us|ms|s)\s*$" % label, text, re.M)
    if not m:
        return float("nan")
    v, unit = float(m.group(1)), m.group(2)
    return v / 1000 if unit == "us" else v * 1000 if unit == "s" else v


rps = re.search(r"Requests/sec:\s+([\d.]+)", text)
non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
print(f"{float(rps.group(1)) if rps else float('nan'):.0f} {ms('50'):.2f} {ms('99'):.2f} {non2xx.group(1) if non2xx else 0}")
