# The EVM contract toolchain (pinned solc-js and OpenZeppelin, for contracts/evm/build.js and the
# evm_artifacts test). Source it; don't run it. Self-contained: it does not need lib.sh.

# Installs contracts/evm/node_modules with `npm ci` on first use and again whenever
# contracts/evm/package-lock.json changes (a hash of the lock file is kept in node_modules).
ensure_evm_contract_tools() {
  local root evm stamp want
  root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
  evm="$root/contracts/evm"
  stamp="$evm/node_modules/.package-lock.sha256"
  want=$(sha256sum "$evm/package-lock.json" | cut -d' ' -f1)
  if [ ! -d "$evm/node_modules" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    echo "== installing the EVM contract tools into contracts/evm/node_modules (solc, OpenZeppelin)"
    npm ci --prefix "$evm" --no-audit --no-fund --loglevel=error
    echo "$want" > "$stamp"
  fi
}
