#!/usr/bin/env bash
# Installs dlserve as a systemd service:
#   builds the release binary, installs it to /usr/local/bin, the OpenAPI
#   document to /usr/local/share/dlserve, the unit and its environment file,
#   creates the dlserve system user, a bearer token, copies the repository's
#   models/ into the state directory (when it has none yet), and enables the
#   service. Run as root from the repository: sudo deploy/install.sh
# Options: --no-build (use .build/release/dlserve as it is), --no-start.
set -euo pipefail
cd "$(dirname "$0")/.."

build=1
start=1
for arg in "$@"; do
  case "$arg" in
    --no-build) build=0 ;;
    --no-start) start=0 ;;
    *) echo "unknown option $arg" >&2; exit 2 ;;
  esac
done

if [[ $(id -u) -ne 0 ]]; then
  echo "install.sh must run as root" >&2
  exit 1
fi

prefix=/usr/local
if [[ $build -eq 1 ]]; then
  swift build -c release --product dlserve
fi
binary=.build/release/dlserve
[[ -x $binary ]] || { echo "no $binary: build it first" >&2; exit 1; }

install -D -m 0755 "$binary" "$prefix/bin/dlserve"
install -D -m 0644 openapi.yaml "$prefix/share/dlserve/openapi.yaml"

if ! getent passwd dlserve >/dev/null; then
  useradd --system --home-dir /var/lib/dlserve --no-create-home --shell /usr/sbin/nologin dlserve
fi

install -d -m 0750 -o root -g dlserve /etc/dlserve
if [[ ! -f /etc/dlserve/dlserve.env ]]; then
  install -m 0640 -o root -g dlserve deploy/dlserve.env /etc/dlserve/dlserve.env
fi
if [[ ! -f /etc/dlserve/token ]]; then
  umask 027
  head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > /etc/dlserve/token
  chown root:dlserve /etc/dlserve/token
  chmod 0640 /etc/dlserve/token
fi

install -d -m 0750 -o dlserve -g dlserve /var/lib/dlserve /var/lib/dlserve/state
if [[ ! -d /var/lib/dlserve/models && -d models ]]; then
  cp -r models /var/lib/dlserve/models
  chown -R dlserve:dlserve /var/lib/dlserve/models
fi
install -d -m 0750 -o dlserve -g dlserve /var/lib/dlserve/models

install -D -m 0644 deploy/dlserve.service /etc/systemd/system/dlserve.service
if command -v systemctl >/dev/null && [[ -d /run/systemd/system ]]; then
  systemctl daemon-reload
  systemctl enable dlserve.service
  if [[ $start -eq 1 ]]; then
    systemctl restart dlserve.service
    systemctl --no-pager status dlserve.service || true
  fi
  echo "dlserve installed; the bearer token is in /etc/dlserve/token"
else
  echo "dlserve installed; systemd is not running here, so the service was not enabled"
fi
