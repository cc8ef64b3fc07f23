#!/usr/bin/env bash
# Send rate of scry, masscan, zmap and netsniff-ng's trafgen, side by side:
# each sends the same number of SYNs ($PORTS ports x 65536 addresses of the
# empty 198.19.0.0/16, 1,048,576 by default) into the lab's sink (a gateway
# that forwards and answers nothing, as throughput.sh's case a), once on a
# quiet machine and once with a CPU-bound process pinned to core $HOG_CPU.
#
#   sudo benches/lab/sendrate.sh
#   sudo ROUNDS=3 benches/lab/sendrate.sh     # each tool three times per case
#
# Packets are counted on the scanner's veth (eth0 tx_packets) by
# `scry-bench-lab measure`, the same way for every tool. trafgen is not a
# scanner: it replays a packet template (trafgen.cfg, written here from the
# lab's addresses and MACs) with a random source port and sequence number
# and a counting destination inside 198.19.0.0/16, and recomputes both
# checksums per packet, the work a scanner does per probe. It runs on every
# core (its default), as masscan and scry choose their own threads.
#
# Every packet stays in the lab: tools run only inside the lab's scanner
# namespace (no default route, its only link the lab bridge); the
# destination is checked to lie in 198.18.0.0/15; masscan and zmap get an
# exclude list of everything outside it; trafgen's template can only write
# 198.19.x.y. The hog sends nothing and runs in the root namespace.
# Knobs: PORTS (16), ROUNDS (1), HOG_CPU (1), TOOLS, TOOL_TIMEOUT (300 s), NO_BUILD=1, OUT_DIR.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=benches/lab/lib.sh
. "$here/lib.sh"

PORTS=${PORTS:-16}
ROUNDS=${ROUNDS:-1}
HOG_CPU=${HOG_CPU:-1}
TOOLS=${TOOLS:-"scry masscan zmap trafgen"}
TOOL_TIMEOUT=${TOOL_TIMEOUT:-300}
RATE=10000000   # "as fast as you can" for the tools that take a rate

[[ $(id -u) -eq 0 ]] || die "needs root (network namespaces, raw sockets)"
for cmd in ip nft ping timeout taskset $TOOLS; do
    [[ $cmd == scry ]] || command -v "$cmd" >/dev/null || die "$cmd not found (scripts/install-deps.sh installs it)"
done
build_bins

OUT_DIR=${OUT_DIR:-$(mktemp -d /tmp/scry-sendrate.XXXXXX)}
mkdir -p "$OUT_DIR"
raw=$(cd "$OUT_DIR" && pwd)
outside_list "$raw/outside.txt"
: >"$raw/zmap.conf"   # replaces /etc/zmap/zmap.conf, whose blacklist covers 198.18.0.0/15

hog_pid=
start_hog() {
    taskset -c "$HOG_CPU" sh -c 'while :; do :; done' &
    hog_pid=$!
}
stop_hog() {
    if [[ -n $hog_pid ]]; then
        kill "$hog_pid" 2>/dev/null || true
        wait "$hog_pid" 2>/dev/null || true
        hog_pid=
    fi
}
after_run() { stop_nudge; }
stop_extras() {
    stop_nudge
    stop_hog
}
trap_exit

start_lab --open-ports 1 --loss 0
lab_net "$VOID_NET"
[[ ${VOID_NET#*/} == 16 ]] || die "expected a /16 sink, got $VOID_NET"
probes=$((PORTS * 65536))
{
    echo "date: $(date -u +%FT%TZ)  kernel: $(uname -r)  cpus: $(nproc)  load before: $(cut -d' ' -f1-3 /proc/loadavg)"
    "$scry" --version | sed -n 1p
    { masscan --version 2>&1 || true; } | grep -m1 "Masscan version" || true
    zmap --version 2>&1 | sed -n 1p
    { trafgen --version 2>&1 || true; } | sed -n 1p
} >"$raw/versions.txt"
cd "$raw"   # masscan writes paused.conf into the working directory on Ctrl-C

# The trafgen template: Ethernet to the gateway's MAC, IPv4 (DF, TTL 64,
# random id) to 198.19.<counting>.<random>, TCP SYN from a random port with
# a random sequence number to port 80; both checksums computed per packet.
mac_bytes() { sed 's/^/0x/; s/:/, 0x/g' <<<"$1"; }
ip_bytes() { sed 's/\./, /g' <<<"$1"; }
void_hi=${VOID_NET%%/*}
void_hi=${void_hi%.*.*}
cat >"$raw/trafgen.cfg" <<EOF
/* SYNs from $SCANNER_IP to ${VOID_NET}, written by sendrate.sh */
{
  $(mac_bytes "$GW_MAC"),
  $(mac_bytes "$SCANNER_MAC"),
  c16(0x0800),
  0x45, 0x00, c16(40), drnd(2), c16(0x4000), 64, 6, csumip(14, 33),
  $(ip_bytes "$SCANNER_IP"),
  $(ip_bytes "$void_hi"), dinc(0, 255, 1), drnd(1),
  drnd(2), c16(80), drnd(4), c32(0),
  0x50, 0x02, c16(1024), csumtcp(14, 34), c16(0),
}
EOF
# The destination's first two bytes are fixed to the sink's /16.
grep -q "^  198, 19, dinc" "$raw/trafgen.cfg" || die "trafgen template does not stay in 198.19.0.0/16"

rows=()
has_tool() { [[ " $TOOLS " == *" $1 "* ]]; }

send_all() {
    local case=$1 tag=$2 round=$3
    if has_tool scry; then
        run "$tag-scry-$round" "$case" scry none -- "$scry" -sS -Pn -n --open -p "1-$PORTS" --rate "$RATE" \
            --retries 0 --wait 0 -e eth0 -S "$SCANNER_IP" --router-mac "$GW_MAC" --seed "$round" \
            --excludefile "$raw/outside.txt" -oJ "$raw/$tag-scry-$round.json" "$VOID_NET"
    fi
    if has_tool masscan; then
        start_nudge
        run "$tag-masscan-$round" "$case" masscan none -- masscan --adapter eth0 --adapter-ip "$SCANNER_IP" \
            --adapter-mac "$SCANNER_MAC" --router-mac "$GW_MAC" --excludefile "$raw/outside.txt" \
            -p "1-$PORTS" --rate "$RATE" --wait 0 --seed "$round" -oL "$raw/$tag-masscan-$round.txt" "$VOID_NET"
    fi
    if has_tool zmap; then
        # zmap scans one port per run: -P sends PORTS probes to each address.
        run "$tag-zmap-$round" "$case (1 port x $PORTS probes)" zmap none -- zmap -C "$raw/zmap.conf" \
            -b "$raw/outside.txt" -i eth0 -S "$SCANNER_IP" --source-mac "$SCANNER_MAC" -G "$GW_MAC" \
            -p 1 -P "$PORTS" -r "$RATE" -c 0 -e "$round" --disable-syslog \
            -O csv -f saddr,sport -o "$raw/$tag-zmap-$round.csv" -m "$raw/$tag-zmap-$round.meta.json" "$VOID_NET"
    fi
    if has_tool trafgen; then
        run "$tag-trafgen-$round" "$case" trafgen none -- trafgen --dev eth0 --conf "$raw/trafgen.cfg" \
            --num "$probes" --notouch-irq --seed "$round"
    fi
}

for round in $(seq "$ROUNDS"); do
    send_all "$probes SYNs, quiet" quiet "$round"
done
start_hog
for round in $(seq "$ROUNDS"); do
    send_all "$probes SYNs, hog on core $HOG_CPU" hog "$round"
done
stop_hog
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$raw/versions.txt"

table "${rows[@]}" | tee "$raw/results.md"
echo
cat "$raw/versions.txt"
