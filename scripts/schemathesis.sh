#!/usr/bin/env bash
# Checks the daemon's responses against openapi.yaml with schemathesis:
# installs schemathesis (PyPI), starts `dlserve serve` on a free loopback port
# with a test model repository (models/ when it has models, else a prototype
# model written by scripts/make_test_repository.py), runs
# `schemathesis run openapi.yaml --url ...` with the response conformance
# checks and "no 5xx", and stops the daemon. Exit status: schemathesis's.
#
# Env: DLSERVE_BIN (default: the debug build, built if missing),
#      SCHEMATHESIS_MAX_EXAMPLES (default 30), MODELS (a repository to use).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=lib/daemon.sh
source scripts/lib/daemon.sh

if ! python3 -m schemathesis.cli --version >/dev/null 2>&1 && ! command -v schemathesis >/dev/null; then
  python3 -m pip install --quiet --disable-pip-version-check 'schemathesis>=4,<5'
fi
st=(schemathesis)
command -v schemathesis >/dev/null || st=(python3 -m schemathesis.cli)

bin=${DLSERVE_BIN:-}
if [[ -z $bin ]]; then
  [[ -x .build/debug/dlserve ]] || swift build --product dlserve
  bin=.build/debug/dlserve
fi

work=$(mktemp -d)
pid=
cleanup() {
  if [[ -n $pid ]]; then kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

models=${MODELS:-}
if [[ -z $models ]]; then
  if compgen -G "models/*/config.json" >/dev/null; then
    # A copy: jobs the run submits publish new versions into it.
    cp -r models "$work/models"
    models=$work/models
  else
    python3 scripts/make_test_repository.py "$work/models" --name fashion
    models=$work/models
  fi
fi

port=$(free_port)
# --job-max-epochs 1 and --job-max-train-images 1: every recipe is refused at
# POST /v1/jobs (400 naming the limit), so no job trains and publishes into
# the model repository during the run. (A generated 1-epoch variant of the
# example used to train and publish fashion-small; a stateful sequence then
# asked for its readiness while it loaded and got the documented 503, which
# the not_a_server_error check counts as a failure.) The XCTests cover jobs
# that run.
"$bin" serve --host 127.0.0.1 --port "$port" --models "$models" --state "$work/var" --log-level warning \
  --job-max-epochs 1 --job-max-train-images 1 >"$work/daemon.log" 2>&1 &
pid=$!
wait_ready "http://127.0.0.1:$port/v2/health/ready" "$pid" "$work/daemon.log"

status=0
"${st[@]}" run openapi.yaml --url "http://127.0.0.1:$port" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance \
  --max-examples "${SCHEMATHESIS_MAX_EXAMPLES:-30}" \
  --exclude-path /v1/models/{name}/unload \
  --generation-deterministic \
  --no-color || status=$?

if ! kill -0 "$pid" 2>/dev/null; then
  echo "the daemon died during the run:" >&2
  cat "$work/daemon.log" >&2
  exit 1
fi
if grep -q " error " "$work/daemon.log"; then
  echo "daemon errors during the run:" >&2
  grep " error " "$work/daemon.log" | head -20 >&2
fi
exit $status
