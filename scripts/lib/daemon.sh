# Sourced by the scripts that start a daemon (schemathesis.sh, bench-http.sh,
# bench-jobs.sh): a free loopback port, and waiting until the daemon answers.

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# wait_ready URL PID LOG: polls URL for up to 30 s; fails, showing LOG, if the
# daemon PID exits first or never answers.
wait_ready() {
  local url=$1 pid=$2 log=$3
  for _ in $(seq 1 300); do
    curl -fsS "$url" >/dev/null 2>&1 && return 0
    kill -0 "$pid" 2>/dev/null || { echo "daemon exited:" >&2; cat "$log" >&2; return 1; }
    sleep 0.1
  done
  echo "daemon did not become ready within 30 s:" >&2
  cat "$log" >&2
  return 1
}
