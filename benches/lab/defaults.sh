#!/usr/bin/env bash
# Defaults against defaults: scry with no timing options (its adaptive rate)
# against nmap with none and with -T4, scanning 1-65535 of one lab target
# with $OPEN_PORTS listeners at seeded random ports, lossless and with
# $LOSS% random inbound loss, $REPEATS times each, in the same run.
#
#   sudo benches/lab/defaults.sh
#   sudo REPEATS=5 LOSS=10 benches/lab/defaults.sh
#
# nmap at defaults takes minutes on the lossy host: it runs there in the
# first repeat only, unless NMAP_LOSSY_EVERY=1.
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

LOSS=${LOSS:-10}
OPEN_PORTS=${OPEN_PORTS:-1000}
SEED=${SEED:-1}
REPEATS=${REPEATS:-3}
NMAP_LOSSY_EVERY=${NMAP_LOSSY_EVERY:-0}
TOOL_TIMEOUT=${TOOL_TIMEOUT:-1200}   # seconds, per tool run (nmap at defaults under loss: minutes)

[[ $(id -u) -eq 0 ]] || die "needs root (network namespaces, raw sockets)"
for cmd in ip nft timeout nmap; do
    command -v "$cmd" >/dev/null || die "$cmd not found (scripts/install-deps.sh installs it)"
done
build_bins

OUT_DIR=${OUT_DIR:-$(mktemp -d /tmp/scry-defaults.XXXXXX)}
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
start_lab --seed "$SEED" --open-ports "$OPEN_PORTS" --loss "$LOSS"
for n in $(seq "$REPEATS"); do
    for target in open lossy; do
        if [[ $target == open ]]; then ip=$OPEN_IP case="1-65535, $OPEN_PORTS open, lossless"
        else ip=$LOSSY_IP case="1-65535, $OPEN_PORTS open, $LOSS% loss"; fi
        # No timing options: the adaptive rate, the default retries and wait.
        id=$target-scry-$n
        run "$id" "$case, defaults" scry "$ip" -- "$scry" -n -p- --excludefile "$raw/outside.txt" \
            -oJ "$raw/$id.json" "$ip"
        [[ $target == lossy && $n -gt 1 && $NMAP_LOSSY_EVERY != 1 ]] && continue
        id=$target-nmap-$n
        run "$id" "$case, defaults" nmap "$ip" -- nmap -n -p- --excludefile "$raw/outside.txt" \
            -oG "$raw/$id.gnmap" "$ip"
        id=$target-nmapT4-$n
        run "$id" "$case, -T4" nmap "$ip" -- nmap -n -T4 -p- --excludefile "$raw/outside.txt" \
            -oG "$raw/$id.gnmap" "$ip"
    done
done
stop_lab

table "${rows[@]}" | tee "$raw/results.md"
echo
cat "$raw/versions.txt"
