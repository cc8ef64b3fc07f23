#!/usr/bin/env bash
# IPv6 against IPv4, same lab, same run (issue 15's benchmark):
#
#   sudo benches/lab/ipv6.sh                  # about 5 minutes
#   sudo CASES=sink benches/lab/ipv6.sh
#
# Case host: scry and nmap scan 1-65535 of the lab target with $OPEN_PORTS
#   listeners at seeded random ports (throughput.sh's case b target), over
#   IPv6 (2001:2::b) and over IPv4 (198.18.0.11) for reference. Each tool at
#   its defaults: scry `-sS -Pn -n -p-` (its default rate control and retry
#   cap, its own neighbour discovery), nmap `-sS -Pn -n -p-` at its default
#   timing (-T3) and again with -T4; `-6` for the IPv6 runs. scry once
#   more at --rate $HOST_RATE, throughput.sh's case b rate.
# Case sink: pure send rate. scry -Pn scans ports 1-$SINK_PORTS of 65536
#   empty addresses at --rate $SINK_RATE, once in 198.19.0.0/16 and once in
#   2001:2:0:ff::/112, both routed to the lab gateway t0, which drops them
#   before routing (nft) and holds a blackhole route for the IPv6 /64, so
#   nothing answers. masscan the same, both families. Packets are counted on
#   the scanner's veth (sent) and on the gateway's veth (arrived at the sink).
#
# Raw outputs stay in $OUT_DIR (a fresh /tmp/scry-ipv6.* by default). Every
# packet stays in the lab: tools run only inside the lab's scanner namespace
# (no default route, one link to the lab bridge), every target is checked to
# lie in 198.18.0.0/15 or 2001:2::/48, and every tool gets an exclude list of
# everything outside those.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=benches/lab/lib.sh
. "$here/lib.sh"

OPEN_PORTS=${OPEN_PORTS:-1000}
SEED=${SEED:-1}
HOST_RATE=${HOST_RATE:-50000}        # case host: scry once more at this --rate (0 skips)
SINK_PORTS=${SINK_PORTS:-16}         # case sink: ports 1-SINK_PORTS x 65536 addresses
SINK_RATE=${SINK_RATE:-10000000}     # case sink: "as fast as you can"
SINK_REPEAT=${SINK_REPEAT:-3}        # case sink: IPv4 and IPv6 runs, alternating, this many times each
TOOLS=${TOOLS:-"scry nmap masscan"}
CASES=${CASES:-"host sink"}
TOOL_TIMEOUT=${TOOL_TIMEOUT:-900}    # seconds, per tool run
NO_BUILD=${NO_BUILD:-0}

[[ $(id -u) -eq 0 ]] || die "needs root (network namespaces, raw sockets)"
for cmd in ip nft ping timeout $TOOLS; do
    [[ $cmd == scry ]] || command -v "$cmd" >/dev/null || die "$cmd not found (scripts/install-deps.sh installs it)"
done

build_bins

OUT_DIR=${OUT_DIR:-$(mktemp -d /tmp/scry-ipv6.XXXXXX)}
mkdir -p "$OUT_DIR"
raw=$(cd "$OUT_DIR" && pwd)
outside_list "$raw/outside.txt"
outside_list6 "$raw/outside6.txt"

# Stop the pings that nudge masscan after each run and on exit (lib.sh).
after_run() { stop_nudge; }
stop_extras() { stop_nudge; }
trap_exit

start_lab --seed "$SEED" --open-ports "$OPEN_PORTS"
lab_net "$VOID_NET"
for addr in "$SCANNER_IP6" "$GW_IP6" "$OPEN_IP6" "$VOID6_NET"; do
    lab_net6 "$addr"
done
sink4=$VOID_NET
sink6=${VOID6_NET%/*}/112
lab_net6 "$sink6"
{
    echo "date: $(date -u +%FT%TZ)  kernel: $(uname -r)  cpus: $(nproc)  load: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "commit: $(git -C "$root" rev-parse --short HEAD)$(git -C "$root" diff --quiet HEAD -- crates tests || echo ' (modified)')"
    "$scry" --version | sed -n 1p
    nmap --version | sed -n 1p
    { masscan --version 2>&1 || true; } | grep -m1 "Masscan version"
} >"$raw/versions.txt"
cat "$raw/versions.txt"
cd "$raw"   # masscan writes paused.conf into the working directory on Ctrl-C

has_tool() { [[ " $TOOLS " == *" $1 "* ]]; }
has_case() { [[ " $CASES " == *" $1 "* ]]; }

# --- case host: the 1000-port target over IPv6 and IPv4 -----------------------
rows=()
if has_case host; then
    for family in 6 4; do
        if [[ $family == 6 ]]; then
            ip=$OPEN_IP6 six=(-6) exclude=$raw/outside6.txt
            lab_net6 "$ip"
        else
            ip=$OPEN_IP six=() exclude=$raw/outside.txt
            lab_net "$ip"
        fi
        case="IPv$family $ip, 1-65535, $OPEN_PORTS open"
        if has_tool scry; then
            run "h$family-scry" "$case, defaults" scry "$ip" -- "$scry" "${six[@]}" -sS -Pn -n -p- \
                --excludefile "$exclude" -oJ "$raw/h$family-scry.json" "$ip"
            if ((HOST_RATE > 0)); then
                run "h$family-scry-rate" "$case, --rate $HOST_RATE" scry "$ip" -- "$scry" "${six[@]}" -sS -Pn -n \
                    -p- --rate "$HOST_RATE" --excludefile "$exclude" -oJ "$raw/h$family-scry-rate.json" "$ip"
            fi
        fi
        if has_tool nmap; then
            for timing in T3 T4; do
                run "h$family-nmap-$timing" "$case, -$timing" nmap "$ip" -- nmap "${six[@]}" -sS -Pn -n -v \
                    "-$timing" -p- --excludefile "$exclude" -oG "$raw/h$family-nmap-$timing.gnmap" "$ip"
            done
        fi
    done
    table "${rows[@]}" | tee "$raw/host.md"
fi

# --- case sink: send rate into nothing, both families -------------------------
# sink_row ID CASE TOOL TRUTH RC: what left the scanner and what reached the sink.
sink_row() {
    local id=$1 case=$2 tool=$3 rc=$5 m=$raw/$1.measure said
    said=$(claim "$tool" "$id")
    [[ $rc == 0 ]] || said="EXIT $rc; $said"
    awk -v tool="$tool" -v case="$case" -v said="${said:--}" \
        -v tx="$(kv "$m" tx_packets)" -v drop="$(kv "$m" tx_dropped)" -v wall="$(kv "$m" wall_s)" \
        -v burst="$(kv "$m" burst_pps)" -v rx="$(kv "$m" sink_rx_packets)" \
        -v sburst="$(kv "$m" sink_burst_pps)" -v usr="$(kv "$m" cpu_user_s)" -v sys="$(kv "$m" cpu_sys_s)" \
        'BEGIN {
            printf "| %s | %s | %d | %d | %d | %.2f | %.0f | %.0f | %.0f | %s | %.2f |\n",
                tool, case, tx, drop, rx, wall, burst, sburst, (wall > 0 ? rx / wall : 0), said, usr + sys
        }'
}

sink_rows=()
if has_case sink; then
    rows=()
    SINK_NS=$GW_NS ROW=sink_row
    for pass in $(seq "$SINK_REPEAT"); do
        for family in 4 6; do
            if [[ $family == 6 ]]; then
                net=$sink6 src=$SCANNER_IP6 exclude=$raw/outside6.txt
                lab_net6 "$net"
            else
                net=$sink4 src=$SCANNER_IP exclude=$raw/outside.txt
                lab_net "$net"
            fi
            case="IPv$family: 1-$SINK_PORTS x $net, nothing answers, pass $pass"
            if has_tool scry; then
                run "s$family-scry-$pass" "$case" scry none -- "$scry" -sS -Pn -n --open -p "1-$SINK_PORTS" \
                    --rate "$SINK_RATE" --retries 0 --wait 0 -e eth0 -S "$src" --router-mac "$GW_MAC" \
                    --seed "$SEED" --excludefile "$exclude" -oJ "$raw/s$family-scry-$pass.json" "$net"
            fi
            if has_tool masscan; then
                if [[ $family == 6 ]]; then
                    mac_flag=--router-mac-ipv6
                else
                    mac_flag=--router-mac
                fi
                start_nudge
                run "s$family-masscan-$pass" "$case" masscan none -- masscan --adapter eth0 --adapter-ip "$src" \
                    --adapter-mac "$SCANNER_MAC" "$mac_flag" "$GW_MAC" --excludefile "$exclude" \
                    -p "1-$SINK_PORTS" --rate "$SINK_RATE" --wait 0 --seed "$SEED" \
                    -oL "$raw/s$family-masscan-$pass.txt" "$net"
            fi
        done
    done
    unset SINK_NS ROW
    # The gateway's own count of what it dropped, per family: every probe went to the sink prefix.
    ip netns exec "$GW_NS" nft list table inet scry_bench >"$raw/sink-nft.txt"
    sed -n 's/^[[:space:]]*//; /counter/p' "$raw/sink-nft.txt"
    sink_rows=("${rows[@]}")
    {
        echo "| tool | case | sent (scanner veth tx) | veth tx drops | arrived (sink veth rx) | wall s | sender burst pps | sink burst pps | sink pps (arrived/wall) | tool's own claim | CPU s |"
        echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---|---:|"
        printf '%s\n' "${sink_rows[@]}"
    } | tee "$raw/sink.md"
fi

echo "load at end: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$raw/versions.txt"
echo
cat "$raw/versions.txt"
