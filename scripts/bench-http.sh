#!/usr/bin/env bash
# make bench-http: loads the classify endpoint over loopback with wrk at
# concurrency 1, 16 and 64, with dynamic batching off (max_batch_size 1) and
# on (the model's own config), and a bare Hummingbird constant route for the
# overhead comparison; prints requests/s and p50/p99 latency as a table.
# A benchmark, not a test: it never fails on numbers.
#
# Usage: scripts/bench-http.sh [MODEL_DIR]   (default models/fashion-mnist)
# Env:   DURATION (default 10s), THREADS (wrk threads, default 2),
#        BENCH_IMAGE (a PNG; default a Fashion-MNIST test image), BUILD=0 to skip the release build,
#        DLSERVE_BIN (a dlserve binary to use instead of the release build).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=lib/daemon.sh
source scripts/lib/daemon.sh

model_dir=${1:-}
duration=${DURATION:-10s}
threads=${THREADS:-2}
image=${BENCH_IMAGE:-Tests/DLServeTests/Fixtures/fashion-0.png}

command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }

if [[ -n ${DLSERVE_BIN:-} ]]; then
  bin=$DLSERVE_BIN
else
  if [[ ${BUILD:-1} -eq 1 ]]; then
    swift build -c release --product dlserve >&2
  fi
  bin=$(swift build -c release --show-bin-path)/dlserve
fi

work=$(mktemp -d)
pid=
cleanup() {
  [[ -n $pid ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# The trained model when there is one, else the prototype test model.
if [[ -z $model_dir ]]; then
  if [[ -f models/fashion-mnist/config.json ]]; then
    model_dir=models/fashion-mnist
  else
    echo "no models/fashion-mnist: benchmarking the prototype test model (scripts/make_test_repository.py)" >&2
    python3 scripts/make_test_repository.py "$work/prototype" --name fashion
    model_dir=$work/prototype/fashion
  fi
fi
[[ -f $model_dir/config.json ]] || { echo "no model at $model_dir" >&2; exit 1; }
model=$(basename "$model_dir")

cat > "$work/post.lua" <<LUA
local f = assert(io.open("$image", "rb"))
wrk.method = "POST"
wrk.body = f:read("*all")
f:close()
wrk.headers["Content-Type"] = "image/png"
LUA

# A repository with the model under its own name, batching set by bench_set_batch.py.
make_repo() {  # $1 = repo dir, $2 = max_batch_size or "model"
  mkdir -p "$1"
  cp -r "$model_dir" "$1/$model"
  if [[ $2 != model ]]; then
    python3 scripts/bench_set_batch.py "$1/$model/config.json" "$2"
  fi
}

start_daemon() {  # $@ = extra args; sets pid and port
  port=$(free_port)
  "$bin" serve --host 127.0.0.1 --port "$port" --state "$work/var" --log-level warning "$@" >"$work/daemon.log" 2>&1 &
  pid=$!
  wait_ready "http://127.0.0.1:$port/${READY_PATH-v2/health/ready}" "$pid" "$work/daemon.log" || exit 1
}

stop_daemon() {
  kill -TERM "$pid"; wait "$pid" || true; pid=
}

# Runs wrk and prints "rps p50_ms p99_ms".
measure() {  # $1 = url, $2 = connections
  wrk -t"$(( $2 < threads ? $2 : threads ))" -c"$2" -d"$duration" --latency -s "$work/post.lua" "$1" | python3 scripts/bench/wrk_summary.py
}

results=()
for mode in off on; do
  repo="$work/repo-$mode"
  if [[ $mode == off ]]; then make_repo "$repo" 1; else make_repo "$repo" model; fi
  start_daemon --models "$repo"
  url="http://127.0.0.1:$port/v1/models/$model/classify"
  curl -fsS -H 'Content-Type: image/png' --data-binary @"$image" "$url" >/dev/null
  for c in 1 16 64; do
    results+=("classify batching-$mode $c $(measure "$url" "$c")")
  done
  stop_daemon
done

READY_PATH="" start_daemon --bench-constant-route
for c in 1 16 64; do
  results+=("constant-route - $c $(measure "http://127.0.0.1:$port/" "$c")")
done
stop_daemon

echo
echo "model: $model_dir; wrk $duration per row, $threads threads; $(nproc) cores shared by wrk and the daemon"
printf '%-16s %-12s %5s %10s %9s %9s %8s\n' endpoint batching conc req/s p50_ms p99_ms non2xx
for row in "${results[@]}"; do
  # shellcheck disable=SC2086
  printf '%-16s %-12s %5s %10s %9s %9s %8s\n' $row
done
