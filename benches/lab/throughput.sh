#!/usr/bin/env bash
# Throughput and recall of scry, masscan, zmap and nmap, side by side, in a
# throwaway network-namespace lab (tests/lab, bin scry-bench-lab).
#
#   sudo benches/lab/throughput.sh
#
# Case a (pure send rate): every tool scans ports 1-$A_PORTS of the empty
#   198.19.0.0/16, routed to a lab "gateway" that forwards and answers nothing.
# Case b (1000-port target): every tool scans 1-65535 of one target with
#   $OPEN_PORTS listeners at seeded random ports, lossless and with $LOSS%
#   inbound loss, and lossless again with veth offloads off.
#
# Packets sent are counted on the scanner's veth (eth0 tx_packets), the same
# way for every tool; each tool's own claim is shown beside it. Raw outputs
# stay in $OUT_DIR (a fresh /tmp/scry-bench.* by default). See README.md.
#
# Every packet stays in the lab: tools run only inside the lab's scanner
# namespace (which has no default route and whose only link is the lab
# bridge), every target is checked to lie in 198.18.0.0/15, masscan and zmap
# get interface, source address and next-hop MAC explicitly, and every tool
# gets an exclude list covering everything outside 198.18.0.0/15.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=benches/lab/lib.sh
. "$here/lib.sh"

A_PORTS=${A_PORTS:-16}               # case a: ports 1-A_PORTS x 65536 addresses
A_RATE=${A_RATE:-10000000}           # case a: "as fast as you can"
NMAP_A_NET=${NMAP_A_NET:-198.19.0.0/16}
B_RATE=${B_RATE:-50000}              # case b
OPEN_PORTS=${OPEN_PORTS:-1000}
SEED=${SEED:-1}
LOSS=${LOSS:-10}
OFFLOADS=${OFFLOADS:-1}              # 0 skips the offloads-off rerun of case b
B_MAX=${B_MAX:-1}                    # 0 skips case b lossless at maximum rate
TOOLS=${TOOLS:-"scry masscan zmap nmap"}
CASES=${CASES:-"a b"}                # add r for the rate-accuracy sweep
R_RATES=${R_RATES:-"100 1000 10000 100000 1000000"}   # case r: --rate values
R_SECS=${R_SECS:-3}                  # case r: seconds of sending per rate
TOOL_TIMEOUT=${TOOL_TIMEOUT:-600}    # seconds, per tool run
NO_BUILD=${NO_BUILD:-0}

[[ $(id -u) -eq 0 ]] || die "needs root (network namespaces, raw sockets)"
for cmd in ip nft ping timeout $TOOLS; do
    [[ $cmd == scry ]] || command -v "$cmd" >/dev/null || die "$cmd not found (scripts/install-deps.sh installs it)"
done
if [[ $OFFLOADS == 1 ]] && ! command -v ethtool >/dev/null; then
    echo "throughput.sh: ethtool not found: skipping the offloads-off run (apt-get install ethtool)" >&2
    OFFLOADS=0
fi

build_bins

OUT_DIR=${OUT_DIR:-$(mktemp -d /tmp/scry-bench.XXXXXX)}
mkdir -p "$OUT_DIR"
raw=$(cd "$OUT_DIR" && pwd)
outside_list "$raw/outside.txt"
: >"$raw/zmap.conf"   # replaces /etc/zmap/zmap.conf, whose blacklist covers 198.18.0.0/15

# After each run: stop the pings that nudge masscan (see start_nudge).
after_run() { stop_nudge; }

# On exit, also stop the pings.
stop_extras() { stop_nudge; }
trap_exit

start_lab --seed "$SEED" --open-ports "$OPEN_PORTS" --loss "$LOSS"
for net in "$VOID_NET" "$NMAP_A_NET"; do
    lab_net "$net"
done
{
    echo "date: $(date -u +%FT%TZ)  kernel: $(uname -r)  cpus: $(nproc)"
    "$scry" --version
    { masscan --version 2>&1 || true; } | grep -m1 "Masscan version"
    zmap --version
    nmap --version | sed -n 1p
} >"$raw/versions.txt"
cd "$raw"   # masscan writes paused.conf into the working directory on Ctrl-C

rows=()

has_tool() { [[ " $TOOLS " == *" $1 "* ]]; }
has_case() { [[ " $CASES " == *" $1 "* ]]; }

# masscan_cmd NEXT_HOP_MAC TARGET ARGS...: sets the array `masscan` to the command line.
masscan_cmd() {
    local mac=$1 target=$2
    shift 2
    lab_net "$target"
    masscan=(masscan --adapter eth0 --adapter-ip "$SCANNER_IP" --adapter-mac "$SCANNER_MAC"
        --router-mac "$mac" --excludefile "$raw/outside.txt" "$@" "$target")
}

# --- case a: pure send rate -------------------------------------------------
a="a: 1-$A_PORTS x /16, no hosts"
if has_case a && has_tool scry; then
    run a-scry "$a" scry none -- "$scry" -sS -Pn -n --open -p "1-$A_PORTS" --rate "$A_RATE" --retries 0 --wait 0 \
        -e eth0 -S "$SCANNER_IP" --router-mac "$GW_MAC" --seed "$SEED" \
        --excludefile "$raw/outside.txt" -oJ "$raw/a-scry.json" "$VOID_NET"
fi
if has_case a && has_tool masscan; then
    masscan_cmd "$GW_MAC" "$VOID_NET" -p "1-$A_PORTS" --rate "$A_RATE" --wait 0 --seed "$SEED" \
        -oL "$raw/a-masscan.txt"
    start_nudge
    run a-masscan "$a" masscan none -- "${masscan[@]}"
fi
if has_case a && has_tool zmap; then
    # zmap 2.1.1 scans one port per run: -P sends A_PORTS probes to that port instead.
    lab_net "$VOID_NET"
    run a-zmap "$a (zmap: 1 port x $A_PORTS probes)" zmap none -- zmap -C "$raw/zmap.conf" \
        -b "$raw/outside.txt" -i eth0 -S "$SCANNER_IP" --source-mac "$SCANNER_MAC" -G "$GW_MAC" \
        -p 1 -P "$A_PORTS" -r "$A_RATE" -c 0 -e "$SEED" --disable-syslog \
        -O csv -f saddr,sport -o "$raw/a-zmap.csv" -m "$raw/a-zmap.meta.json" "$VOID_NET"
fi
if has_case a && has_tool nmap; then
    # One host group for the whole range, or nmap waits out each small group's timeout.
    hosts=$((1 << (32 - ${NMAP_A_NET#*/})))
    # --open: list only hosts with an open port, or nmap writes ~35 MB per output.
    run a-nmap "a: 1-$A_PORTS x $NMAP_A_NET, no hosts" nmap none -- nmap -sS -Pn -n -v --open -e eth0 \
        --min-rate "$A_RATE" --max-retries 0 --min-hostgroup "$hosts" -p "1-$A_PORTS" \
        --excludefile "$raw/outside.txt" -oG "$raw/a-nmap.gnmap" "$NMAP_A_NET"
fi

# --- case b: one target with OPEN_PORTS listeners -----------------------------
# case_b TAG CASE IP MAC NMAP_TIMING...
case_b() {
    local tag=$1 case=$2 ip=$3 mac=$4
    shift 4
    lab_net "$ip"
    if has_tool scry; then
        # No --retries: scry's default cap (10) with nmap's adaptive rule, as users run it.
        run "$tag-scry" "$case" scry "$ip" -- "$scry" -sS -Pn -n -p 1-65535 --rate "$B_RATE" \
            -e eth0 -S "$SCANNER_IP" --router-mac "$mac" --seed "$SEED" \
            --excludefile "$raw/outside.txt" -oJ "$raw/$tag-scry.json" "$ip"
    fi
    if has_tool masscan; then
        # masscan 1.3.2 resends far more than --retries asks (masscan#574, #599), so
        # it runs twice: as asked, and with --retries 0 (one probe per port).
        local retries
        for retries in 2 0; do
            masscan_cmd "$mac" "$ip" -p 1-65535 --rate "$B_RATE" --retries "$retries" --wait 1 \
                --seed "$SEED" -oL "$raw/$tag-masscan-r$retries.txt"
            start_nudge
            run "$tag-masscan-r$retries" "$case (--retries $retries)" masscan "$ip" -- "${masscan[@]}"
        done
    fi
    if has_tool zmap; then
        rows+=("| zmap | $case | - | - | - | - | - | skipped: zmap 2.1.1 scans one port per run | - | - | - |")
    fi
    if has_tool nmap; then
        run "$tag-nmap" "$case ($*)" nmap "$ip" -- nmap -sS -Pn -n -v -e eth0 "$@" -p 1-65535 \
            --excludefile "$raw/outside.txt" -oG "$raw/$tag-nmap.gnmap" "$ip"
    fi
}

has_case b || B_MAX=0 OFFLOADS=0
has_case b && case_b b-lossless "b: 1-65535, $OPEN_PORTS open" "$OPEN_IP" "$OPEN_MAC" -T4
if [[ $B_MAX == 1 ]]; then
    # The same target at full speed: does recall hold when the rate is not the limit?
    fast="b: 1-65535, $OPEN_PORTS open, max rate"
    if has_tool scry; then
        run b-max-scry "$fast (--rate $A_RATE --retries 2)" scry "$OPEN_IP" -- "$scry" -sS -Pn -n -p 1-65535 \
            --rate "$A_RATE" --retries 2 -e eth0 -S "$SCANNER_IP" --router-mac "$OPEN_MAC" --seed "$SEED" \
            --excludefile "$raw/outside.txt" -oJ "$raw/b-max-scry.json" "$OPEN_IP"
    fi
    if has_tool masscan; then
        masscan_cmd "$OPEN_MAC" "$OPEN_IP" -p 1-65535 --rate "$A_RATE" --retries 0 --wait 1 --seed "$SEED" \
            -oL "$raw/b-max-masscan.txt"
        start_nudge
        run b-max-masscan "$fast (--rate $A_RATE --retries 0)" masscan "$OPEN_IP" -- "${masscan[@]}"
    fi
fi
has_case b && case_b b-loss "b: 1-65535, $OPEN_PORTS open, $LOSS% loss" "$LOSSY_IP" "$LOSSY_MAC" -T4 --min-rate "$B_RATE"
if [[ $OFFLOADS == 1 ]]; then
    for ns in "$SCANNER_NS" "$OPEN_NS"; do
        ip netns exec "$ns" ethtool -k eth0 >"$raw/offloads-before.$ns.txt"
        ip netns exec "$ns" ethtool -K eth0 gro off gso off tso off tx off rx off
    done
    for port in scan t1; do
        ip netns exec "$HUB_NS" ethtool -K "$port" gro off gso off tso off tx off rx off
    done
    case_b b-nooffload "b: 1-65535, $OPEN_PORTS open, offloads off" "$OPEN_IP" "$OPEN_MAC" -T4
fi

# --- case r: does the sending rate match --rate? ------------------------------
# About R_SECS seconds of probes into the void per rate; compare "burst pps"
# (the rate over the middle 98% of the sending) with the rate asked for.
if has_case r; then
    for rate in $R_RATES; do
        n=$((rate * R_SECS))
        if ((n < 65536)); then net="${VOID_NET%/*}/24" hosts=256; else net=$VOID_NET hosts=65536; fi
        ports=$(((n + hosts - 1) / hosts))
        lab_net "$net"
        r="r: --rate $rate, $((hosts * ports)) probes"
        if has_tool scry; then
            run "r$rate-scry" "$r" scry none -- "$scry" -sS -Pn -n -p "1-$ports" --rate "$rate" --retries 0 \
                --wait 0 -e eth0 -S "$SCANNER_IP" --router-mac "$GW_MAC" --seed "$SEED" \
                --excludefile "$raw/outside.txt" -oJ "$raw/r$rate-scry.json" "$net"
        fi
        if has_tool masscan; then
            masscan_cmd "$GW_MAC" "$net" -p "1-$ports" --rate "$rate" --wait 0 --seed "$SEED" \
                -oL "$raw/r$rate-masscan.txt"
            start_nudge
            run "r$rate-masscan" "$r" masscan none -- "${masscan[@]}"
        fi
    done
fi

table "${rows[@]}" | tee "$raw/results.md"
echo
cat "$raw/versions.txt"
