#!/usr/bin/env python3
"""The server's own CPU per request on every task endpoint (part of `make bench-http`).

Starts one daemon over a repository of the benchmark LeNet and the shipped
task models, loads each endpoint with wrk (one request body each, a fixed
concurrency), and reads the daemon's /metrics before and after:

    daemon CPU per request   = delta dlserve_process_cpu_seconds_total / requests
    model compute per request = delta dlserve_compute_time_seconds_sum{model} / requests
    server's own per request  = the difference (HTTP, decoding, encoding,
                                scheduling, logging, metrics)

Model compute is wall time inside the model (batches or decoding steps) on a
worker thread running one BLAS thread, so it is also that thread's CPU time.
A benchmark, not a test: it prints figures and never fails on them.

Usage: http_tasks.py DLSERVE_BIN LENET_DIR [--duration 5s] [--connections 16]
"""
import argparse
import base64
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def first_png(directory):
    for dirpath, _, files in sorted(os.walk(directory)):
        for f in sorted(files):
            if f.endswith(".png"):
                return os.path.join(dirpath, f)
    return None


def b64(path):
    return base64.b64encode(open(path, "rb").read()).decode()


def endpoints(lenet):
    """(name, model dir, route, content type, body bytes) of each endpoint with its data present."""
    out = []
    out.append(("classify", lenet, "classify", "image/png",
                open(os.path.join(ROOT, "Tests/DLServeTests/Fixtures/fashion-0.png"), "rb").read()))
    out.append(("sentiment", os.path.join(ROOT, "models/sentiment-rt"), "sentiment", "application/json",
                json.dumps({"text": "A gorgeous, witty, seductive movie."}).encode()))
    scene = first_png(os.path.join(ROOT, "data/detect-fashion/test"))
    if scene:
        out.append(("detect", os.path.join(ROOT, "models/detect-fashion"), "detect", "image/png", open(scene, "rb").read()))
    else:
        print("no data/detect-fashion/test (make data-detection): detect skipped", file=sys.stderr)
    faces = os.path.join(ROOT, "data/faces/test")
    people = sorted(os.listdir(faces)) if os.path.isdir(faces) else []
    if len(people) >= 2:
        a, b = first_png(os.path.join(faces, people[0])), first_png(os.path.join(faces, people[1]))
        out.append(("verify", os.path.join(ROOT, "models/face-embed"), "verify", "application/json",
                    json.dumps({"a": b64(a), "b": b64(b)}).encode()))
        out.append(("embed", os.path.join(ROOT, "models/face-embed"), "embed", "image/png", open(a, "rb").read()))
    else:
        print("no data/faces/test (make data-faces): verify and embed skipped", file=sys.stderr)
    out.append(("translate", os.path.join(ROOT, "models/translate-en-es"), "translate", "application/json",
                json.dumps({"text": "The cat is on the table.", "beam_width": 4}).encode()))
    return out


def scrape(port):
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    cpu = float(re.search(r"^dlserve_process_cpu_seconds_total (\S+)", text, re.M).group(1))
    compute = {m.group(1): float(m.group(2))
               for m in re.finditer(r'^dlserve_compute_time_seconds_sum\{model="([^"]+)"\} (\S+)', text, re.M)}
    return cpu, compute


def wrk(url, lua, connections, duration):
    out = subprocess.run(["wrk", f"-t{min(2, connections)}", f"-c{connections}", f"-d{duration}", "--latency", "-s", lua, url],
                         capture_output=True, text=True, check=True).stdout
    summary = subprocess.run([sys.executable, os.path.join(ROOT, "scripts/bench/wrk_summary.py")], input=out,
                             capture_output=True, text=True, check=True).stdout.split()
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    return float(summary[0]), float(summary[1]), float(summary[2]), int(summary[3]), requests


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dlserve")
    ap.add_argument("lenet")
    ap.add_argument("--duration", default=os.environ.get("DURATION", "5s"))
    ap.add_argument("--connections", type=int, default=16)
    args = ap.parse_args()

    work = tempfile.mkdtemp(prefix="dlserve-bench-tasks-")
    daemon = None
    try:
        repo = os.path.join(work, "models")
        os.makedirs(repo)
        eps = endpoints(args.lenet)
        for _, model_dir, _, _, _ in eps:
            link = os.path.join(repo, os.path.basename(model_dir))
            if not os.path.exists(link):
                os.symlink(os.path.abspath(model_dir), link)
        port = free_port()
        log = open(os.path.join(work, "daemon.log"), "w")
        daemon = subprocess.Popen([args.dlserve, "serve", "--host", "127.0.0.1", "--port", str(port), "--models", repo,
                                   "--state", os.path.join(work, "state")], stdout=log, stderr=log)
        for _ in range(600):
            try:
                if urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/health/ready", timeout=2).status == 200:
                    break
            except OSError:
                pass
            if daemon.poll() is not None:
                sys.exit("daemon exited: " + open(os.path.join(work, "daemon.log")).read())
            time.sleep(0.1)
        rows = []
        for name, model_dir, route, ctype, body in eps:
            model = os.path.basename(model_dir)
            url = f"http://127.0.0.1:{port}/v1/models/{model}/{route}"
            body_path = os.path.join(work, f"{name}.body")
            open(body_path, "wb").write(body)
            lua = os.path.join(work, f"{name}.lua")
            open(lua, "w").write(
                f'local f = assert(io.open("{body_path}", "rb"))\nwrk.method = "POST"\nwrk.body = f:read("*all")\n'
                f'f:close()\nwrk.headers["Content-Type"] = "{ctype}"\n')
            req = urllib.request.Request(url, data=body, headers={"Content-Type": ctype})
            urllib.request.urlopen(req, timeout=60).read()  # answers 200 before it is measured
            wrk(url, lua, args.connections, "1s")  # warm-up
            cpu0, comp0 = scrape(port)
            rps, p50, p99, non2xx, n = wrk(url, lua, args.connections, args.duration)
            cpu1, comp1 = scrape(port)
            total = 1e6 * (cpu1 - cpu0) / n
            compute = 1e6 * (comp1.get(model, 0) - comp0.get(model, 0)) / n
            rows.append((name, model, args.connections, rps, p50, p99, non2xx, total, compute, total - compute))
        print(f"\nServer CPU per request by endpoint (wrk -c{args.connections}, {args.duration} each; "
              "from /metrics: process CPU and the model's compute time)")
        print(f"{'endpoint':<10} {'model':<16} {'conc':>4} {'req/s':>8} {'p50_ms':>8} {'p99_ms':>8} {'non2xx':>6} "
              f"{'cpu_us/req':>11} {'model_us/req':>12} {'server_us/req':>13}")
        for r in rows:
            print(f"{r[0]:<10} {r[1]:<16} {r[2]:>4} {r[3]:>8.0f} {r[4]:>8.2f} {r[5]:>8.2f} {r[6]:>6} "
                  f"{r[7]:>11.1f} {r[8]:>12.1f} {r[9]:>13.1f}")
    finally:
        if daemon is not None:
            daemon.terminate()
            try:
                daemon.wait(timeout=30)
            except subprocess.TimeoutExpired:
                daemon.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
