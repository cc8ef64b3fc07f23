#!/usr/bin/env bash
# Quick start on a fresh Debian machine (as root): install packages, build,
# start a throwaway namespace lab and scan one of its targets from the
# scanner namespace. Every address is in 198.18.0.0/15; the lab has no route
# out, and it is removed when this script exits.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
cargo build --release --locked --bins

lab_log=$(mktemp)
./target/release/scry-lab up >"$lab_log" 2>&1 &
lab_pid=$!
trap 'kill "$lab_pid" 2>/dev/null; wait "$lab_pid" 2>/dev/null || true; rm -f "$lab_log"' EXIT
for _ in $(seq 100); do
  grep -q '^scry-lab: ready' "$lab_log" && break
  kill -0 "$lab_pid" 2>/dev/null || { cat "$lab_log"; exit 1; }
  sleep 0.1
done
cat "$lab_log"
scanner_ns=$(awk '$1 == "scan" {print $2}' "$lab_log")
[ -n "$scanner_ns" ] || { echo "quickstart: the lab did not come up:"; cat "$lab_log"; exit 1; }

echo
echo "# scry -p 22,25,80,135,443,3389 198.18.0.10-12   (inside namespace $scanner_ns)"
ip netns exec "$scanner_ns" ./target/release/scry -p 22,25,80,135,443,3389 198.18.0.10-12
