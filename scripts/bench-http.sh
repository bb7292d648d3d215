#!/usr/bin/env bash
# make bench-http: loads the classify endpoint over loopback with wrk at
# concurrency 1, 16 and 64, with dynamic batching off (max_batch_size 1) and
# on (the model's own config), and a bare Hummingbird constant route for the
# overhead comparison; prints requests/s and p50/p99 latency as a table, and
# classify's share of the bare route's throughput. Then the server's own CPU
# per request on every task endpoint (scripts/bench/http_tasks.py), and with
# PEER=torchserve the TorchServe peer on the same LeNet in the same run
# (../shared/peers/torchserve/run.sh) with the ratios.
# A benchmark, not a test: it never fails on numbers.
#
# Usage: scripts/bench-http.sh [MODEL_DIR]   (default: the benchmark LeNet, trained once by
#        `dlserve train recipes/lenet-fashion.json` into var/bench/models)
# Env:   DURATION (default 10s), THREADS (wrk threads, default 2),
#        BENCH_IMAGE (a PNG; default a Fashion-MNIST test image), BUILD=0 to skip the release build,
#        DLSERVE_BIN (a dlserve binary to use instead of the release build),
#        TASKS=0 to skip the per-task CPU table, PEER=torchserve for the TorchServe peer
#        (PEERS_DIR, default ../shared/peers; TS_CONFIG, default batch16; LOG_QUIET, default 1).
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

# The benchmark LeNet (the TorchServe peer's network and recipe), trained once.
if [[ -z $model_dir ]]; then
  model_dir=var/bench/models/lenet-fashion
  if [[ ! -f $model_dir/config.json ]]; then
    echo "training the benchmark LeNet (recipes/lenet-fashion.json, one epoch) -> $model_dir" >&2
    "$bin" train recipes/lenet-fashion.json --models var/bench/models --quiet >&2
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
# The row of endpoint $1, batching $2, concurrency $3: "req/s p50 p99".
row_of() {
  local want="$1 $2 $3" row
  for row in "${results[@]}"; do
    # shellcheck disable=SC2086
    set -- $row
    if [[ "$1 $2 $3" == "$want" ]]; then echo "$4 $5 $6"; fi
  done
}
bare64=$(row_of constant-route - 64 | cut -d' ' -f1)
for mode in off on; do
  c64=$(row_of classify "batching-$mode" 64 | cut -d' ' -f1)
  python3 -c "import sys; a, b = float(sys.argv[1]), float(sys.argv[2]); print(f'classify batching-$mode at c=64: {a:.0f} req/s = {100 * a / b:.0f}% of the bare route ({b:.0f})')" "$c64" "$bare64"
done

if [[ ${TASKS:-1} -eq 1 ]]; then
  python3 scripts/bench/http_tasks.py "$bin" "$model_dir" --duration "${TASK_DURATION:-5s}"
fi

if [[ ${PEER:-} == torchserve ]]; then
  peers=${PEERS_DIR:-../shared/peers}
  [[ -x $peers/torchserve/run.sh || -f $peers/torchserve/run.sh ]] || { echo "no $peers/torchserve/run.sh (PEERS_DIR)" >&2; exit 1; }
  raw=$work/torchserve
  cfg=${TS_CONFIG:-batch16}
  echo
  echo "TorchServe peer (LeNet, 2 workers, $cfg, quiet logs): $peers/torchserve/run.sh" >&2
  RAW=$raw REPS=1 CONFIGS=$cfg CONNS="1 16 64" DURATION=$duration LOG_QUIET=${LOG_QUIET:-1} \
    TORCH_SPEC=${TORCH_SPEC:-torch==2.13.0+cpu} bash "$peers/torchserve/run.sh" setup model bench >&2
  echo
  echo "TorchServe ($cfg) beside dlserve classify (batching on), same machine, same run"
  printf '%5s %14s %9s %16s %9s %7s\n' conc dlserve_req/s p99_ms torchserve_req/s p99_ms ratio
  for c in 1 16 64; do
    ts=$(python3 scripts/bench/wrk_summary.py < "$raw/wrk_${cfg}_c${c}_r1.txt")
    ours=$(row_of classify batching-on "$c" | cut -d' ' -f1,3)
    # shellcheck disable=SC2086
    python3 -c "import sys; o, op, t, tp = map(float, sys.argv[1:5]); print(f'{int(sys.argv[5]):>5} {o:>14.0f} {op:>9.2f} {t:>16.0f} {tp:>9.2f} {o / t:>6.1f}x')" $ours $(echo $ts | cut -d' ' -f1,3) "$c"
  done
fi
