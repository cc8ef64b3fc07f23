# Helpers for the lab benchmarks (throughput.sh, loss.sh, ...): building, the lab
# and its range guard, measured runs, reading each tool's output (open
# ports, its own claims) and the results table. Sourced; expects $root (the
# repository), $raw (the raw output directory), $TOOL_TIMEOUT and an array
# `rows`; a script may define after_run, called after every run.

die() {
    echo "$(basename "$0"): $*" >&2
    exit 1
}

# build_bins: builds scry and scry-bench-lab in release mode (unless
# NO_BUILD=1) and sets $scry and $benchlab.
build_bins() {
    local bin=${CARGO_TARGET_DIR:-$root/target}/release
    if [[ ${NO_BUILD:-0} != 1 ]]; then
        (cd "$root" && cargo build -q --release -p scry -p scry-lab)
    fi
    scry=$bin/scry
    benchlab=$bin/scry-bench-lab
    [[ -x $scry && -x $benchlab ]] || die "missing $scry or $benchlab"
}

lab_pid=

# start_lab ARGS...: `scry-bench-lab up ARGS` in the background (it lives
# as long as this shell), waits until it is ready and reads lab.env.
start_lab() {
    "$benchlab" up "$@" --env "$raw/lab.env" --ports-file "$raw/open-ports.txt" >"$raw/lab.log" 2>&1 &
    lab_pid=$!
    for _ in $(seq 600); do
        grep -q '^scry-bench-lab: ready' "$raw/lab.log" 2>/dev/null && break
        kill -0 "$lab_pid" 2>/dev/null || { cat "$raw/lab.log" >&2; die "lab did not come up"; }
        sleep 0.1
    done
    grep -q '^scry-bench-lab: ready' "$raw/lab.log" || die "lab not ready after 60 s"
    cat "$raw/lab.log"
    # shellcheck source=/dev/null
    . "$raw/lab.env"
    [[ $SCANNER_NS =~ ^scry[0-9]+x[0-9]+scan$ ]] || die "unexpected scanner namespace $SCANNER_NS"
    local net
    for net in "$SCANNER_IP" "$GW_IP" "$OPEN_IP" "$LOSSY_IP"; do
        lab_net "$net"
    done
}

# stop_lab: stops the lab start_lab started, if it still runs.
stop_lab() {
    if [[ -n $lab_pid ]] && kill -0 "$lab_pid" 2>/dev/null; then
        kill -TERM "$lab_pid"
        wait "$lab_pid" 2>/dev/null || true
    fi
    lab_pid=
}

# on_exit: stops what this script started (its own stop_extras first, if
# defined, then the lab) and points at the raw outputs; traps EXIT, INT, TERM.
on_exit() {
    local rc=$?
    trap - EXIT INT TERM
    if declare -F stop_extras >/dev/null; then
        stop_extras
    fi
    stop_lab
    echo "raw outputs: $raw" >&2
    exit "$rc"
}
trap_exit() {
    trap on_exit EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
}

# run ID CASE TOOL TRUTH -- CMD...: measure CMD in the scanner namespace, add a row.
# TRUTH is the target's IP (recall and false positives against open-ports.txt)
# or "none" (nothing is open: every open report is a false positive).
# With $SINK_NS set, measure also counts what arrives on that namespace's eth0;
# with $ROW set, that function makes the row instead of `row`.
run() {
    local id=$1 case=$2 tool=$3 truth=$4
    shift 5
    printf '%-28s %s\n' "$id" "$*" >>"$raw/commands.txt"
    echo "== $id: $*" >&2
    local rc=0
    "$benchlab" measure --ns "$SCANNER_NS" ${SINK_NS:+--sink "$SINK_NS"} --out "$raw/$id.measure" -- \
        timeout --foreground -k 10 "$TOOL_TIMEOUT" "$@" >"$raw/$id.stdout" 2>"$raw/$id.stderr" || rc=$?
    if declare -F after_run >/dev/null; then
        after_run
    fi
    rows+=("$(${ROW:-row} "$id" "$case" "$tool" "$truth" "$rc")")
    echo "   ${rows[-1]}" >&2
}

nudge_pid=

# masscan 1.3.2's receive thread only notices the end of a scan when a
# packet arrives (robertdavidgraham/masscan#144): ping the scanner from the
# gateway (which drops the replies) while masscan runs. Adds 5 packets/s.
# Needs $GW_NS and $SCANNER_IP (start_lab).
start_nudge() {
    ip netns exec "$GW_NS" ping -q -i 0.2 "$SCANNER_IP" >/dev/null 2>&1 &
    nudge_pid=$!
}
stop_nudge() {
    if [[ -n $nudge_pid ]]; then
        kill "$nudge_pid" 2>/dev/null || true
        wait "$nudge_pid" 2>/dev/null || true
        nudge_pid=
    fi
}

# lab_net ADDR[/LEN]: refuses anything not inside 198.18.0.0/15.
lab_net() {
    local re='^198\.1[89]\.([0-9]{1,3})\.([0-9]{1,3})(/(1[6-9]|2[0-9]|3[0-2]))?$'
    if [[ $1 =~ $re ]] && ((BASH_REMATCH[1] < 256 && BASH_REMATCH[2] < 256)); then
        return 0
    fi
    [[ $1 == 198.18.0.0/15 ]] || die "refusing target $1: not inside 198.18.0.0/15"
}

# lab_net6 ADDR[/LEN]: refuses anything not inside 2001:2::/48 (the third
# group must be 0, written out or inside a "::").
lab_net6() {
    local re='^2001:2:(:|0:)[0-9a-f:]*(/(4[89]|[5-9][0-9]|1[01][0-9]|12[0-8]))?$'
    [[ $1 =~ $re && $1 != *:::* ]] || die "refusing target $1: not inside 2001:2::/48"
}

# outside_list6 FILE: the complement of 2001:2::/48 as 48 IPv6 prefixes, for
# the same purpose: flip each of the /48's first 48 bits in turn.
outside_list6() {
    local lab=$((0x200100020000)) i net
    for ((i = 0; i < 48; i++)); do
        net=$((((lab >> (47 - i)) ^ 1) << (47 - i)))
        printf '%x:%x:%x::/%d\n' $((net >> 32)) $(((net >> 16) & 0xffff)) $((net & 0xffff)) $((i + 1))
    done >"$1"
}

# outside_list FILE: the complement of 198.18.0.0/15 as CIDR blocks, given
# to every tool as an exclude list so that no tool can leave the lab range.
outside_list() {
    printf '%s\n' 0.0.0.0/1 128.0.0.0/2 192.0.0.0/6 196.0.0.0/7 198.0.0.0/12 198.16.0.0/15 \
        198.20.0.0/14 198.24.0.0/13 198.32.0.0/11 198.64.0.0/10 198.128.0.0/9 199.0.0.0/8 \
        200.0.0.0/5 208.0.0.0/4 224.0.0.0/3 >"$1"
}

# kv FILE KEY: the value of KEY=VALUE in FILE (empty if absent).
kv() {
    sed -n "s/^$2=//p" "$1" 2>/dev/null | tail -1
}

# open_ports TOOL ID IP: the ports TOOL reported open, one per line, sorted
# unique; IP "none" takes every address.
open_ports() {
    local tool=$1 id=$2 ip=$3
    # scry with -oG instead of -oJ: read as nmap's.
    [[ $tool == scry && ! -e $raw/$id.json && -e $raw/$id.gnmap ]] && tool=nmap
    {
        case $tool in
            scry) # JSON Lines: {"ip":..,"port":..,"state":"open",...,"type":"port"}
                grep '"type":"port"' "$raw/$id.json" 2>/dev/null | grep '"state":"open"' |
                    { [[ $ip == none ]] && cat || grep -F "\"ip\":\"$ip\""; } |
                    sed -n 's/.*"port":\([0-9]*\).*/\1/p' ;;
            masscan) # -oL: open tcp PORT IP TIMESTAMP
                awk -v ip="$ip" '$1 == "open" && (ip == "none" || $4 == ip) { print $3 }' \
                    "$raw/$id.txt" 2>/dev/null ;;
            zmap) # csv: saddr,sport
                awk -F, -v ip="$ip" 'NR > 1 && (ip == "none" || $1 == ip) { print $2 }' \
                    "$raw/$id.csv" 2>/dev/null ;;
            nmap) # -oG: Host: IP ()\tPorts: 22/open/tcp//ssh///, ...
                grep '^Host: .*Ports:' "$raw/$id.gnmap" 2>/dev/null |
                    { [[ $ip == none ]] && cat || grep -F "Host: $ip "; } |
                    sed 's/.*Ports: //; s/\t.*//' | tr ',' '\n' |
                    awk -F/ '$2 == "open" { gsub(/ /, "", $1); print $1 }' ;;
        esac
    } | sort -n -u
}

# claim TOOL ID: what the tool itself says it sent, and how fast.
claim() {
    local tool=$1 id=$2
    case $tool in
        scry)
            grep '"type":"stats"' "$raw/$id.json" 2>/dev/null | tail -1 |
                sed -n 's/.*"pps":\([0-9.e+-]*\).*"sent":\([0-9]*\).*/sent \2, \1/p' |
                awk '{ printf "%s %s %.0f pps", $1, $2, $3 }' ;;
        masscan)
            tr '\r' '\n' <"$raw/$id.stderr" | sed -n 's/^rate: *\([0-9.]*\)-kpps.*/\1/p' | sort -g | tail -1 |
                awk '{ printf "peak status %.0f pps", $1 * 1000 }' ;;
        zmap)
            local meta=$raw/$id.meta.json sent streams avg
            sent=$(sed -n 's/.*"total_sent": \([0-9]*\).*/\1/p' "$meta" 2>/dev/null)
            streams=$(sed -n 's/.*"packet_streams": \([0-9]*\).*/\1/p' "$meta" 2>/dev/null)
            avg=$(grep -o 'send: [0-9]* [^;]*avg)' "$raw/$id.stderr" | tail -1 | sed 's/.*(\(.*\) avg)/\1/')
            [[ -n $sent && -n $streams ]] &&
                echo "sent $sent x $streams probes; last status avg $avg x $streams" ;;
        nmap)
            local sent secs
            sent=$(sed -n 's/.*Raw packets sent: \([0-9]*\).*/\1/p' "$raw/$id.stdout" | tail -1)
            secs=$(sed -n 's/.*scanned in \([0-9.]*\) seconds.*/\1/p' "$raw/$id.stdout" | tail -1)
            [[ -n $sent && -n $secs ]] &&
                awk -v n="$sent" -v s="$secs" 'BEGIN { printf "sent %d in %.2f s, %.0f pps", n, s, n / s }' ;;
    esac
}

# row ID CASE TOOL TRUTH RC: one markdown table row from the run's files.
row() {
    local id=$1 case=$2 tool=$3 truth=$4 rc=$5 m=$raw/$1.measure
    open_ports "$tool" "$id" "$truth" >"$raw/$id.open"
    local found recall=- fp
    found=$(wc -l <"$raw/$id.open")
    if [[ $truth == none ]]; then
        fp=$found
    else
        local tp
        tp=$(grep -c -F -x -f "$raw/open-ports.txt" "$raw/$id.open" || true)
        fp=$((found - tp))
        recall="$tp/$(wc -l <"$raw/open-ports.txt")"
    fi
    local said
    said=$(claim "$tool" "$id")
    [[ $rc == 0 ]] || said="EXIT $rc; $said"
    awk -v tool="$tool" -v case="$case" -v said="${said:--}" -v recall="$recall" -v fp="$fp" \
        -v tx="$(kv "$m" tx_packets)" -v drop="$(kv "$m" tx_dropped)" -v wall="$(kv "$m" wall_s)" \
        -v burst="$(kv "$m" burst_pps)" -v usr="$(kv "$m" cpu_user_s)" -v sys="$(kv "$m" cpu_sys_s)" \
        'BEGIN {
            pps = wall > 0 ? tx / wall : 0
            printf "| %s | %s | %d | %d | %.2f | %.0f | %.0f | %s | %.2f | %s | %d |\n",
                tool, case, tx, drop, wall, pps, burst, said, usr + sys, recall, fp
        }'
}

# table ROW...: the header and the rows.
table() {
    echo "| tool | case | sent (veth tx) | veth tx drops | wall s | pps (sent/wall) | burst pps (1-99%) | tool's own claim | CPU s | recall | false pos |"
    echo "|---|---|---:|---:|---:|---:|---:|---|---:|---:|---:|"
    printf '%s\n' "$@"
}

# start_lab_with SECONDS SUBCOMMAND ARGS...: `scry-bench-lab SUBCOMMAND ARGS
# --env $raw/lab.env` in the background (it lives as long as this shell),
# waits up to SECONDS until it is ready, shows its log and reads lab.env.
start_lab_with() {
    local seconds=$1
    shift
    "$benchlab" "$@" --env "$raw/lab.env" >"$raw/lab.log" 2>&1 &
    lab_pid=$!
    for _ in $(seq $((seconds * 10))); do
        grep -q '^scry-bench-lab: ready' "$raw/lab.log" 2>/dev/null && break
        kill -0 "$lab_pid" 2>/dev/null || { cat "$raw/lab.log" >&2; die "lab did not come up"; }
        sleep 0.1
    done
    grep -q '^scry-bench-lab: ready' "$raw/lab.log" || die "lab not ready after $seconds s"
    cat "$raw/lab.log" >&2
    # shellcheck source=/dev/null
    . "$raw/lab.env"
    [[ $SCANNER_NS =~ ^scry[0-9]+x[0-9]+scan$ ]] || die "unexpected scanner namespace $SCANNER_NS"
}

# measured ID -- CMD...: runs CMD in the scanner namespace, keeps its report
# (wall and CPU time, ru_maxrss, packets) in ID.measure.
measured() {
    local id=$1
    shift 2
    printf '%-16s %s\n' "$id" "$*" >>"$raw/commands.txt"
    echo "== $id: $*" >&2
    "$benchlab" measure --ns "$SCANNER_NS" --out "$raw/$id.measure" -- \
        timeout --foreground -k 10 "$TOOL_TIMEOUT" "$@" >"$raw/$id.stdout" 2>"$raw/$id.stderr" ||
        echo "   $id exited $(kv "$raw/$id.measure" exit)" >&2
}

nudge_pid=

# masscan 1.3.2's receive thread only notices the end of a scan when a
# packet arrives (robertdavidgraham/masscan#144): start_nudge pings the
# scanner from the gateway (which drops the replies) while masscan runs,
# 5 packets/s; stop_nudge stops it.
start_nudge() {
    ip netns exec "$GW_NS" ping -q -i 0.2 "$SCANNER_IP" >/dev/null 2>&1 &
    nudge_pid=$!
}
stop_nudge() {
    if [[ -n $nudge_pid ]]; then
        kill "$nudge_pid" 2>/dev/null || true
        wait "$nudge_pid" 2>/dev/null || true
        nudge_pid=
    fi
}
