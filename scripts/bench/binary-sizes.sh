#!/usr/bin/env bash
# Build the Lambda binaries in release mode (the workspace's release profile: thin LTO, one
# codegen unit, abort on panic, stripped symbols) and print each one's size and the total.
# Sizes are of the host-target binaries in target/release; cargo-lambda's arm64/x86_64 builds
# for the SAM template use the same profile, so they land close to these figures.
set -euo pipefail
cd "$(dirname "$0")/../.."

cargo build --release --locked -p walletless-functions >&2

# The binary names are the [[bin]] entries of functions/Cargo.toml.
mapfile -t bins < <(sed -n 's/^name = "\(.*\)"$/\1/p' functions/Cargo.toml | grep -v '^walletless-functions$')

target_dir=${CARGO_TARGET_DIR:-target}
total=0
row() { awk -v name="$1" -v bytes="$2" 'BEGIN { printf "%-28s %12d %8.2f\n", name, bytes, bytes / 1048576 }'; }
printf '%-28s %12s %8s\n' binary bytes MiB
for bin in "${bins[@]}"; do
  size=$(stat -c %s "$target_dir/release/$bin")
  total=$((total + size))
  row "$bin" "$size"
done
row "total (${#bins[@]} binaries)" "$total"
