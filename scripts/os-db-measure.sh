#!/usr/bin/env bash
# Regenerates crates/scry-os/tests/fixtures/lab.db (test data, never loaded
# by scry itself): builds the namespace lab of
# crates/scry-os/tests/oracle/mod.rs, runs nmap 7.93's OS detection on every
# target RUNS times (default 10, about 2 s each) from the lab's scanner
# namespace, turns each target's fingerprints into a reference entry
# (crates/scry-os/tests/oracle/entry.rs) and writes the file.
#
#   sudo scripts/os-db-measure.sh [RUNS] [OUT]     OUT defaults to the fixture
#
# Needs root and nmap; probes only the lab's own addresses (198.18.0.0/15).
# Review the diff afterwards: SEQ ranges move a little from one measurement
# to the next, everything else must stay the same on the same kernel.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
runs=${1:-10}
out=$(realpath -m "${2:-$root/crates/scry-os/tests/fixtures/lab.db}")

[[ $(id -u) -eq 0 ]] || { echo "os-db-measure.sh: needs root (CAP_NET_ADMIN)" >&2; exit 1; }
command -v nmap >/dev/null || { echo "os-db-measure.sh: nmap is not installed" >&2; exit 1; }
[[ $runs =~ ^[1-9][0-9]*$ ]] || { echo "usage: $0 [RUNS] [OUT]" >&2; exit 2; }

cd "$root"
# CI=true makes a missing lab or nmap fail instead of skipping silently.
CI=true SCRY_LAB_DB_RUNS=$runs SCRY_LAB_DB_OUT=$out \
    cargo test -q -p scry-os --test lab_oracle -- --ignored --exact measure_lab_db --nocapture
