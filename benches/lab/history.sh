#!/usr/bin/env bash
# What keeping the history costs a scan: the 1000-open-port target scanned
# with -p- (a) with the history off (--no-db) and (b) on (--db in a fresh
# directory, the default SQLite store), alternating, ROUNDS times each, in
# one lab. Prints every run's row and the median wall time of each side.
#
#   sudo benches/lab/history.sh                # ROUNDS=5, RATE=50000
#   sudo RATE=1000000 ROUNDS=9 benches/lab/history.sh
#
# Same lab and measurement as throughput.sh (see README.md). Every packet
# stays in the lab: scry runs only inside the lab's scanner namespace, with
# the complement of 198.18.0.0/15 excluded.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=benches/lab/lib.sh
. "$here/lib.sh"

ROUNDS=${ROUNDS:-5}
RATE=${RATE:-50000}
OPEN_PORTS=${OPEN_PORTS:-1000}
SEED=${SEED:-1}
TOOL_TIMEOUT=${TOOL_TIMEOUT:-600}

[[ $(id -u) -eq 0 ]] || die "needs root (network namespaces, raw sockets)"
build_bins

OUT_DIR=${OUT_DIR:-$(mktemp -d /tmp/scry-history.XXXXXX)}
mkdir -p "$OUT_DIR"
raw=$(cd "$OUT_DIR" && pwd)
outside_list "$raw/outside.txt"
trap_exit
"$scry" --version >"$raw/versions.txt"

start_lab --seed "$SEED" --open-ports "$OPEN_PORTS" --loss 0
rows=()
for round in $(seq "$ROUNDS"); do
    for side in off on; do
        db=(--no-db)
        [[ $side == on ]] && db=(--db "$raw/history-$round.db")
        id=r$round-history-$side
        run "$id" "1-65535, $OPEN_PORTS open, history $side" scry "$OPEN_IP" -- "$scry" -sS -Pn -n -p 1-65535 \
            --rate "$RATE" -e eth0 -S "$SCANNER_IP" --router-mac "$OPEN_MAC" --seed "$SEED" \
            --excludefile "$raw/outside.txt" "${db[@]}" -oJ "$raw/$id.json" "$OPEN_IP"
    done
done
stop_lab

{
    table "${rows[@]}"
    echo
    for side in off on; do
        printf 'history %s: median wall %s s over %s runs\n' "$side" \
            "$(for r in $(seq "$ROUNDS"); do kv "$raw/r$r-history-$side.measure" wall_s; done | sort -g |
                awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }')" \
            "$ROUNDS"
    done
} | tee "$raw/results.md"
