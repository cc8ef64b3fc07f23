#!/usr/bin/env bash
# Recall and wall time under heavier loss: scry with its default retry cap
# and with --retries 4, and nmap -T4, scanning 1-65535 of one lab target with
# $OPEN_PORTS listeners at seeded random ports that drops each inbound packet
# with probability LOSS/100, for every LOSS in $LOSSES (a fresh lab each).
#
#   sudo benches/lab/loss.sh                  # LOSSES="10 30"
#   sudo LOSSES=30 NMAP=0 benches/lab/loss.sh
#
# Same lab and measurement as throughput.sh (see README.md): packets counted
# on the scanner's veth, wall time of the process, recall against the
# listener list. Raw outputs stay in $OUT_DIR. Every packet stays in the lab:
# tools run only inside the lab's scanner namespace and the targets are
# checked to lie in 198.18.0.0/15.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=benches/lab/lib.sh
. "$here/lib.sh"

LOSSES=${LOSSES:-"10 30"}
RATE=${RATE:-50000}
OPEN_PORTS=${OPEN_PORTS:-1000}
SEED=${SEED:-1}
NMAP=${NMAP:-1}                      # 0 skips nmap, the slow one under loss
TOOL_TIMEOUT=${TOOL_TIMEOUT:-1200}   # seconds, per tool run

[[ $(id -u) -eq 0 ]] || die "needs root (network namespaces, raw sockets)"
for cmd in ip nft timeout nmap; do
    command -v "$cmd" >/dev/null || die "$cmd not found (scripts/install-deps.sh installs it)"
done
build_bins

OUT_DIR=${OUT_DIR:-$(mktemp -d /tmp/scry-loss.XXXXXX)}
mkdir -p "$OUT_DIR"
raw=$(cd "$OUT_DIR" && pwd)
outside_list "$raw/outside.txt"

trap_exit

{
    echo "date: $(date -u +%FT%TZ)  kernel: $(uname -r)  cpus: $(nproc)"
    "$scry" --version
    nmap --version | sed -n 1p
} >"$raw/versions.txt"

rows=()
for loss in $LOSSES; do
    start_lab --seed "$SEED" --open-ports "$OPEN_PORTS" --loss "$loss"
    case="1-65535, $OPEN_PORTS open, $loss% loss"
    for retries in default 4; do
        flag=()
        [[ $retries == default ]] || flag=(--retries "$retries")
        id=l$loss-scry-r$retries
        run "$id" "$case, retries $retries" scry "$LOSSY_IP" -- "$scry" -sS -Pn -n -p 1-65535 --rate "$RATE" \
            "${flag[@]}" -e eth0 -S "$SCANNER_IP" --router-mac "$LOSSY_MAC" --seed "$SEED" \
            --excludefile "$raw/outside.txt" -oJ "$raw/$id.json" "$LOSSY_IP"
    done
    if [[ $NMAP == 1 ]]; then
        run "l$loss-nmap" "$case, -T4" nmap "$LOSSY_IP" -- nmap -sS -Pn -n -v -e eth0 -T4 -p 1-65535 \
            --excludefile "$raw/outside.txt" -oG "$raw/l$loss-nmap.gnmap" "$LOSSY_IP"
    fi
    stop_lab
done

table "${rows[@]}" | tee "$raw/results.md"
echo
cat "$raw/versions.txt"
