#!/usr/bin/env bash
# The connect scan: scry -sT against nmap -sT, both as an unprivileged user
# (uid 65534 via setpriv, no capabilities), scanning 1-65535 of the lab
# target with $OPEN_PORTS listeners at seeded random ports, in the same run;
# scry -sS as root beside them for reference.
#
#   sudo benches/lab/connect.sh
#   sudo NMAP_T4=0 benches/lab/connect.sh
#
# Every tool writes grepable output (-oG) only: scry's JSON Lines flush a
# record per port, 64535 closed ones here, which costs more than the scan.
#
# Same lab and measurement as throughput.sh (see README.md): packets counted
# on the scanner's veth, wall time and CPU time of the process, recall
# against the listener list. Raw outputs stay in $OUT_DIR. Every packet
# stays in the lab: tools run only inside the lab's scanner namespace and
# the target is checked to lie in 198.18.0.0/15.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=benches/lab/lib.sh
. "$here/lib.sh"

OPEN_PORTS=${OPEN_PORTS:-1000}
SEED=${SEED:-1}
RATE=${RATE:-1000000}                # the second scry -sT run's --rate
NMAP_T4=${NMAP_T4:-1}                # 0 skips nmap -sT -T4
TOOL_TIMEOUT=${TOOL_TIMEOUT:-600}    # seconds, per tool run

[[ $(id -u) -eq 0 ]] || die "needs root (network namespaces)"
for cmd in ip nft timeout nmap setpriv; do
    command -v "$cmd" >/dev/null || die "$cmd not found (scripts/install-deps.sh installs it)"
done
build_bins

OUT_DIR=${OUT_DIR:-$(mktemp -d /tmp/scry-connect.XXXXXX)}
mkdir -p "$OUT_DIR"
raw=$(cd "$OUT_DIR" && pwd)
outside_list "$raw/outside.txt"
# nobody runs its own copy of scry and writes its outputs here.
chmod 755 "$raw"
chmod 644 "$raw/outside.txt"
cp "$scry" "$raw/scry"
chmod 755 "$raw/scry"
out=$raw/nobody
mkdir -p "$out"
chown 65534:65534 "$out"
nobody=(setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all)

trap_exit

{
    echo "date: $(date -u +%FT%TZ)  kernel: $(uname -r)  cpus: $(nproc)"
    "$scry" --version
    nmap --version | sed -n 1p
} >"$raw/versions.txt"

# The tools write into $out as nobody; the table reads them from $raw.
after_run() {
    local f
    for f in "$out"/*; do
        [[ -e $f ]] && mv -f "$f" "$raw/"
    done
    return 0
}

rows=()
start_lab --seed "$SEED" --open-ports "$OPEN_PORTS" --loss 0
case="1-65535, $OPEN_PORTS open"
run c-scry-sT "$case, as nobody" scry "$OPEN_IP" -- "${nobody[@]}" "$raw/scry" -sT -Pn -n -p 1-65535 \
    --seed "$SEED" --excludefile "$raw/outside.txt" -oG "$out/c-scry-sT.gnmap" "$OPEN_IP"
run c-scry-sT-fast "$case, as nobody, --rate $RATE" scry "$OPEN_IP" -- "${nobody[@]}" "$raw/scry" -sT -Pn -n \
    -p 1-65535 --rate "$RATE" --seed "$SEED" --excludefile "$raw/outside.txt" -oG "$out/c-scry-sT-fast.gnmap" \
    "$OPEN_IP"
run c-nmap-sT "$case, as nobody" nmap "$OPEN_IP" -- "${nobody[@]}" nmap -sT -Pn -n -v -p 1-65535 \
    --excludefile "$raw/outside.txt" -oG "$out/c-nmap-sT.gnmap" "$OPEN_IP"
if [[ $NMAP_T4 == 1 ]]; then
    run c-nmap-sT-T4 "$case, as nobody, -T4" nmap "$OPEN_IP" -- "${nobody[@]}" nmap -sT -Pn -n -v -T4 \
        -p 1-65535 --excludefile "$raw/outside.txt" -oG "$out/c-nmap-sT-T4.gnmap" "$OPEN_IP"
fi
run c-scry-sS "$case, as root, -sS" scry "$OPEN_IP" -- "$scry" -sS -Pn -n -p 1-65535 --seed "$SEED" \
    --excludefile "$raw/outside.txt" -oG "$raw/c-scry-sS.gnmap" "$OPEN_IP"
stop_lab

table "${rows[@]}" | tee "$raw/results.md"
echo
cat "$raw/versions.txt"
