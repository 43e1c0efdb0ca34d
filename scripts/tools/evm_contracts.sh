# The EVM contract toolchain (pinned solc-js and OpenZeppelin, for contracts/evm/build.js and the
# evm_artifacts test). Source it (after scripts/lib.sh); don't run it.

# contracts/evm/node_modules, installed on first use and again when its lock file changes.
ensure_evm_contract_tools() {
  npm_ci_when_changed contracts/evm "the EVM contract tools (solc, OpenZeppelin)"
}
