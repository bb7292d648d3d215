#!/usr/bin/env bash
# make bench-jobs: serving latency while a training job trains. Loads the
# classify endpoint with wrk (concurrency 1 and 16) on an idle daemon, then
# again while a job trains in the same daemon (fashion-cnn on Fashion-MNIST,
# on the job queue's low-priority thread), and prints requests/s and p50/p99
# latency for both, with the job's training speed. A benchmark, not a test:
# it never fails on numbers.
#
# Usage: scripts/bench-jobs.sh [MODEL_DIR]   (default models/fashion-mnist)
# Env:   DURATION (default 10s), THREADS (wrk threads, default 2),
#        BENCH_IMAGE (a PNG), BUILD=0 to skip the release build,
#        JOB_RECIPE (a recipe file; default a fashion-cnn recipe written here),
#        JOB_NICE (renice the training thread to compare with the default 19).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=lib/daemon.sh
source scripts/lib/daemon.sh

model_dir=${1:-models/fashion-mnist}
duration=${DURATION:-10s}
threads=${THREADS:-2}
image=${BENCH_IMAGE:-Tests/DLServeTests/Fixtures/fashion-0.png}

command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }
[[ -f $model_dir/config.json ]] || { echo "no model at $model_dir" >&2; exit 1; }
if [[ ${BUILD:-1} -eq 1 ]]; then
  swift build -c release --product dlserve >&2
fi
bin=$(swift build -c release --show-bin-path)/dlserve
model=$(basename "$model_dir")

work=$(mktemp -d)
pid=
cleanup() {
  [[ -n $pid ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$work/models"
cp -r "$model_dir" "$work/models/$model"
cat > "$work/post.lua" <<LUA
local f = assert(io.open("$image", "rb"))
wrk.method = "POST"
wrk.body = f:read("*all")
f:close()
wrk.headers["Content-Type"] = "image/png"
LUA
recipe=${JOB_RECIPE:-$work/recipe.json}
if [[ -z ${JOB_RECIPE:-} ]]; then
  cat > "$recipe" <<'JSON'
{"name": "bench-job", "dataset": {"name": "fashion-mnist", "limit": 20000, "test_limit": 1000},
 "model": {"preset": "fashion-cnn", "width": 16}, "optimizer": {"name": "adam", "lr": 0.002},
 "epochs": 50, "batch_size": 64, "seed": 1}
JSON
fi

port=$(free_port)
"$bin" serve --host 127.0.0.1 --port "$port" --models "$work/models" --state "$work/var" --log-level warning \
  >"$work/daemon.log" 2>&1 &
pid=$!
wait_ready "http://127.0.0.1:$port/v2/health/ready" "$pid" "$work/daemon.log"
base="http://127.0.0.1:$port"
url="$base/v1/models/$model/classify"
curl -fsS -H 'Content-Type: image/png' --data-binary @"$image" "$url" >/dev/null

# Runs wrk and prints "rps p50_ms p99_ms non2xx".
measure() {  # $1 = connections
  wrk -t"$(( $1 < threads ? $1 : threads ))" -c"$1" -d"$duration" --latency -s "$work/post.lua" "$url" | python3 scripts/bench/wrk_summary.py
}

job_field() {  # $1 = job id, $2 = python expression over `j`
  curl -fsS "$base/v1/jobs/$1" | python3 -c "import json,sys; j=json.load(sys.stdin); print($2)"
}

results=()
for c in 1 16; do results+=("idle $c $(measure "$c")"); done

id=$(curl -fsS -H 'Content-Type: application/json' --data-binary @"$recipe" "$base/v1/jobs" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
echo "training job $id: waiting for its first batches" >&2
for _ in $(seq 1 1200); do
  [[ $(job_field "$id" 'j["state"] == "running" and j["progress"]["batch"] > 5') == True ]] && break
  sleep 0.1
done
# JOB_NICE=N renices the training thread (found by its name, dlserve-job-0)
# to compare with the default nice 19.
if [[ -n ${JOB_NICE:-} ]]; then
  for task in /proc/"$pid"/task/*; do
    if [[ $(cat "$task/comm" 2>/dev/null) == dlserve-job-0 ]]; then renice -n "$JOB_NICE" -p "${task##*/}" >&2; fi
  done
fi
for c in 1 16; do results+=("training $c $(measure "$c")"); done
speed=$(job_field "$id" 'round(j["progress"].get("images_per_second") or 0)')
state=$(job_field "$id" 'j["state"]')
curl -fsS -X DELETE "$base/v1/jobs/$id" >/dev/null || true

echo
echo "model: $model_dir; wrk $duration per row, $threads threads; $(nproc) cores shared by wrk, the daemon and the job"
echo "job thread nice: ${JOB_NICE:-19}"
echo "job: $(python3 -c "import json; r=json.load(open('$recipe')); print(r['model'], r['dataset'])"); state during the runs: $state; ${speed} images/s while loaded"
printf '%-10s %5s %10s %9s %9s %8s\n' phase conc req/s p50_ms p99_ms non2xx
for row in "${results[@]}"; do
  # shellcheck disable=SC2086
  printf '%-10s %5s %10s %9s %9s %8s\n' $row
done
