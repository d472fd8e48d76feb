#!/usr/bin/env bash
# How long a new user waits on a fresh clone: `git clone`, then `make run` until the API answers
# (the install included, with empty pip and uv caches, as on a new machine). Prints the seconds.
#   bash bench/first_run.sh            # clones this checkout's HEAD
# Loopback only: the runtime listens on 127.0.0.1; the install reaches the package registry.
set -euo pipefail
src=$(git -C "$(dirname "$0")/.." rev-parse --show-toplevel)
work=$(mktemp -d)
pid=""
trap '[ -n "$pid" ] && kill -TERM -- "-$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
ws_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
start=$(date +%s.%N)
git clone -q "$src" "$work/main"
cd "$work/main"
PIP_CACHE_DIR="$work/pip-cache" UV_CACHE_DIR="$work/uv-cache" \
  setsid make run ARGS="--port $port --ws-port $ws_port" >"$work/run.log" 2>&1 &
pid=$!
for _ in $(seq 1 1200); do  # bounded: 10 minutes at most
  if curl -fs "http://127.0.0.1:$port/v2/openapi.json" >/dev/null 2>&1; then
    python3 -c "import sys; print(f'make run answered after {float(sys.argv[2]) - float(sys.argv[1]):.1f} s')" \
      "$start" "$(date +%s.%N)"
    exit 0
  fi
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "make run exited early:"; tail -20 "$work/run.log"; exit 1
  fi
  sleep 0.5
done
echo "make run did not answer within 10 minutes"; tail -20 "$work/run.log"; exit 1
