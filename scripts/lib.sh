# Helpers shared by the scripts in this folder. Source it; don't run it.

repo_root() { cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd; }

# Python tools in .venv, installed on first use and again when requirements.txt changes.
ensure_python_tools() {
  local root stamp
  root=$(repo_root)
  stamp="$root/.venv/.requirements.sha256"
  local want
  want=$(sha256sum "$root/scripts/requirements.txt" | cut -d' ' -f1)
  if [ ! -x "$root/.venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    echo "== installing Python tools into .venv (moto, cfn-lint)"
    python3 -m venv "$root/.venv"
    "$root/.venv/bin/pip" install --quiet --disable-pip-version-check -r "$root/scripts/requirements.txt"
    echo "$want" > "$stamp"
  fi
}

# `npm ci` in DIR (relative to the repository) on first use and again whenever its
# package-lock.json changes (a hash of the lock file is kept in node_modules). LABEL says what.
npm_ci_when_changed() {
  local dir stamp want
  dir="$(repo_root)/$1"
  stamp="$dir/node_modules/.package-lock.sha256"
  want=$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)
  if [ ! -d "$dir/node_modules" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    echo "== installing $2 into $1/node_modules"
    npm ci --prefix "$dir" --no-audit --no-fund --loglevel=error
    echo "$want" > "$stamp"
  fi
}

# Node tools in tests/tools (the independent ARC-76 implementations the arc76_independent
# test compares against).
ensure_node_tools() {
  npm_ci_when_changed tests/tools "the ARC-76 cross-check tools (arc76, ethers)"
}

# A free TCP port on loopback.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# Wait until an HTTP URL answers (any status), at most $2 seconds.
wait_for_http() {
  local url=$1 deadline=$((SECONDS + ${2:-30}))
  until curl -s -o /dev/null "$url"; do
    if [ $SECONDS -ge $deadline ]; then
      echo "error: $url did not answer within ${2:-30}s" >&2
      return 1
    fi
    sleep 0.2
  done
}

# Start the moto server (the AWS emulator) on a free port; export the AWS variables that point
# the SDK at it; remember its pid in MOTO_PID.
start_moto() {
  local root port
  root=$(repo_root)
  port=$(free_port)
  mkdir -p "$root/target"
  "$root/.venv/bin/moto_server" -H 127.0.0.1 -p "$port" > "$root/target/moto.log" 2>&1 &
  MOTO_PID=$!
  wait_for_http "http://127.0.0.1:$port/moto-api/" 60
  export AWS_ENDPOINT_URL="http://127.0.0.1:$port"
  export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1
  export AWS_EC2_METADATA_DISABLED=true
  echo "== moto server on $AWS_ENDPOINT_URL (log: target/moto.log)"
}
