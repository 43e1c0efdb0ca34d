# The local chains (devnets) for development and tests. Source it; don't run it.
#   ensure_devnet_tools  install what they need (Python tools in .venv, ganache in devnets/evm)
#   start_devnets [ALGOD_PORT EVM_PORT]
#                        start both on loopback (free ports unless given), wait until they answer, export
#                        WALLETLESS_ALGOD_DEVNET_URL, WALLETLESS_EVM_DEVNET_URL and
#                        WALLETLESS_ALGOD_DEVNET_DISPENSER_FILE (the algod dispenser's mnemonic),
#                        and remember their pids in ALGOD_DEVNET_PID and EVM_DEVNET_PID
#   stop_devnets         stop what start_devnets started
# Logs: target/algod-devnet.log and target/evm-devnet.log.

# shellcheck source=../lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

# ganache in devnets/evm/node_modules, installed on first use and again when
# devnets/evm/package-lock.json changes; the algod devnet's Python packages (algojig,
# py-algorand-sdk) come with the project's .venv.
ensure_devnet_tools() {
  ensure_python_tools
  npm_ci_when_changed devnets/evm "the EVM devnet (ganache)"
}

# Wait until a JSON-RPC node answers eth_chainId, at most $2 seconds.
_wait_for_json_rpc() {
  local url=$1 deadline=$((SECONDS + ${2:-30}))
  until curl -sf -X POST -H 'Content-Type: application/json' \
    -d '{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}' "$url" > /dev/null; do
    if [ $SECONDS -ge $deadline ]; then
      echo "error: $url did not answer eth_chainId within ${2:-30}s" >&2
      return 1
    fi
    sleep 0.2
  done
}

start_devnets() {
  local root algod_port evm_port
  root=$(repo_root)
  mkdir -p "$root/target"

  algod_port=${1:-$(free_port)}
  # Named after the port: two devnets (two checkouts' test runs) never share a dispenser file.
  export WALLETLESS_ALGOD_DEVNET_DISPENSER_FILE="$root/target/algod-devnet-$algod_port.dispenser"
  "$root/.venv/bin/python" "$root/devnets/algod/server.py" --host 127.0.0.1 --port "$algod_port" \
    --dispenser-file "$WALLETLESS_ALGOD_DEVNET_DISPENSER_FILE" > "$root/target/algod-devnet.log" 2>&1 &
  ALGOD_DEVNET_PID=$!

  evm_port=${2:-$(free_port)}
  node "$root/devnets/evm/start.js" --host 127.0.0.1 --port "$evm_port" \
    > "$root/target/evm-devnet.log" 2>&1 &
  EVM_DEVNET_PID=$!

  export WALLETLESS_ALGOD_DEVNET_URL="http://127.0.0.1:$algod_port"
  export WALLETLESS_EVM_DEVNET_URL="http://127.0.0.1:$evm_port"
  if ! wait_for_http "$WALLETLESS_ALGOD_DEVNET_URL/health" 30 \
    || ! _wait_for_json_rpc "$WALLETLESS_EVM_DEVNET_URL" 30; then
    tail -n 20 "$root/target/algod-devnet.log" "$root/target/evm-devnet.log" >&2
    stop_devnets
    return 1
  fi
  echo "== algod devnet on $WALLETLESS_ALGOD_DEVNET_URL (log: target/algod-devnet.log)"
  echo "== EVM devnet (chain id 31337) on $WALLETLESS_EVM_DEVNET_URL (log: target/evm-devnet.log)"
}

stop_devnets() {
  local pid
  for pid in ${ALGOD_DEVNET_PID:-} ${EVM_DEVNET_PID:-}; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in ${ALGOD_DEVNET_PID:-} ${EVM_DEVNET_PID:-}; do
    wait "$pid" 2>/dev/null || true
  done
  ALGOD_DEVNET_PID=
  EVM_DEVNET_PID=
}
