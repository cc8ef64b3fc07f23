#!/usr/bin/env bash
# Version detection at scale: scry -sV against nmap -sV (default timing and
# -T4) on one lab host running every lab daemon, and on $HOSTS such hosts,
# all in one lab and one run. For each run: wall time, CPU time, peak
# resident memory, and on how many (host, port) pairs the answer equals
# nmap's (state, name, product, version, extrainfo, hostname, ostype,
# devicetype, tunnel, method, conf and CPEs, as lab_version.rs compares).
#
#   sudo benches/lab/version.sh                   # HOSTS=32 SILENT=1, about 25 minutes
#   sudo HOSTS=32 SILENT=0 benches/lab/version.sh  # without the silent port, about 10 minutes
#
# `scry-bench-lab services` builds the lab: a scanner and $HOSTS targets,
# each with its own instance of every daemon of tests/lab/src/daemon.rs
# (vsftpd, OpenSSH, inetd telnetd, Postfix, nginx on 80 and 443, Dovecot
# IMAP/POP3, PostgreSQL, Redis, memcached), two ports that accept and
# close (tcpwrapped) and, with SILENT=1, one that accepts and never sends.
# nmap runs with a data directory whose NSE script database is empty, so its
# `version` scripts do not rewrite its answers. scry runs with its defaults
# throughout (its -T4 sets only the port scan's retries and cooldown:
# docs/scanning.md, "Timing templates").
#
# Measured as throughput.sh measures (`scry-bench-lab measure`: wall time,
# the child's CPU time and ru_maxrss). Tools run only inside the lab's
# scanner namespace; every target is checked to lie in 198.18.0.0/15.
# "peak KiB per open service" divides the whole peak by the open services
# scanned, fixed costs included (scry's 128 MiB capture ring, the probe
# database); the lines under the table give the growth per further service.
# Knobs: HOSTS (32), SILENT (1), TOOL_TIMEOUT (3600 s per run), LAB_TIMEOUT
# (1800 s), OUT_DIR.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=benches/lab/lib.sh
. "$here/lib.sh"

HOSTS=${HOSTS:-32}
SILENT=${SILENT:-1}
TOOL_TIMEOUT=${TOOL_TIMEOUT:-3600}
LAB_TIMEOUT=${LAB_TIMEOUT:-1800}     # seconds for the daemons to start (about 5 s per host)

[[ $(id -u) -eq 0 ]] || die "needs root (network namespaces, raw sockets)"
for cmd in ip timeout nmap python3; do
    command -v "$cmd" >/dev/null || die "$cmd not found (scripts/install-deps.sh installs it)"
done
[[ -f /usr/share/nmap/nmap-service-probes ]] || die "no /usr/share/nmap/nmap-service-probes"
build_bins

OUT_DIR=${OUT_DIR:-$(mktemp -d /tmp/scry-version.XXXXXX)}
mkdir -p "$OUT_DIR"
raw=$(cd "$OUT_DIR" && pwd)
trap_exit

{
    echo "date: $(date -u +%FT%TZ)  kernel: $(uname -r)  cpus: $(nproc)  load: $(cut -d' ' -f1-3 /proc/loadavg)"
    "$scry" --version | sed -n 1p
    nmap --version | sed -n 1p
} >"$raw/versions.txt"

silent=()
[[ $SILENT == 1 ]] && silent=(--silent)
start_lab_with "$LAB_TIMEOUT" services --hosts "$HOSTS" "${silent[@]}"
read -r -a all <<<"$TARGET_IPS"
for ip in "${all[@]}"; do
    lab_net "$ip"
done
per_host=$(tr ',' '\n' <<<"$PORTS" | wc -l)

# nmap finds its other data files in its own install; this only empties script.db.
nmapdir=$raw/nmap-data
mkdir -p "$nmapdir/scripts"
: >"$nmapdir/scripts/script.db"

for n in 1 "${#all[@]}"; do
    targets=("${all[@]:0:n}")
    measured "scry-$n" -- "$scry" -sV -Pn -n -p "$PORTS" -oX "$raw/scry-$n.xml" "${targets[@]}"
    measured "nmap-$n" -- nmap -sV -Pn -n --datadir "$nmapdir" -p "$PORTS" -oX "$raw/nmap-$n.xml" "${targets[@]}"
    measured "nmapT4-$n" -- nmap -sV -T4 -Pn -n --datadir "$nmapdir" -p "$PORTS" \
        -oX "$raw/nmapT4-$n.xml" "${targets[@]}"
done

# compare A.xml B.xml: "<equal> <pairs>", the (host, port) pairs of B (nmap) whose
# answer A gives too; the differing ones go to A-vs-B.diff.
compare() {
    python3 - "$raw/$1.xml" "$raw/$2.xml" "$raw/$1-vs-$2.diff" <<'EOF'
import re, sys
import xml.etree.ElementTree as ET

def answers(path):
    out = {}
    for host in ET.parse(path).getroot().iter("host"):
        ip = next(a.get("addr") for a in host.iter("address") if a.get("addrtype") == "ipv4")
        for port in host.iter("port"):
            service = port.find("service")
            attrs = {}
            cpes = []
            if service is not None:
                attrs = {k: v for k, v in service.attrib.items() if k != "servicefp"}
                # memcached's "uptime N seconds": the daemon's age when asked.
                if "extrainfo" in attrs:
                    attrs["extrainfo"] = re.sub(r"^uptime \d+ ", "uptime N ", attrs["extrainfo"])
                cpes = [c.text for c in service.iter("cpe")]
            state = port.find("state").get("state")
            out[(ip, port.get("protocol"), int(port.get("portid")))] = (state, sorted(attrs.items()), cpes)
    return out

ours, theirs = answers(sys.argv[1]), answers(sys.argv[2])
with open(sys.argv[3], "w") as diff:
    for key in sorted(theirs):
        if ours.get(key) != theirs[key]:
            print(key, "\n  nmap:", theirs[key], "\n  scry:", ours.get(key), file=diff)
equal = sum(1 for key in theirs if ours.get(key) == theirs[key])
print(equal, len(theirs))
EOF
}

row() {
    local id=$1 tool=$2 n=$3 m=$raw/$1.measure ports
    ports=$(compare "$id" "nmap-$n")
    read -r equal pairs <<<"$ports"
    local same_t4
    same_t4=$(compare "$id" "nmapT4-$n" | awk '{ print $1 "/" $2 }')
    awk -v tool="$tool" -v n="$n" -v eq="$equal/$pairs" -v t4="$same_t4" -v per_host="$per_host" \
        -v wall="$(kv "$m" wall_s)" -v user="$(kv "$m" cpu_user_s)" -v sys="$(kv "$m" cpu_sys_s)" \
        -v rss="$(kv "$m" max_rss_kib)" -v rc="$(kv "$m" exit)" 'BEGIN {
        services = n * per_host # every scanned port is an open service
        printf "| %s | %d | %.2f | %.2f | %.1f | %.0f | %s | %s |%s\n", tool, n, wall, user + sys,
            rss / 1024, rss / services, eq, t4, (rc == 0 ? "" : " exit " rc)
    }'
}

{
    echo "| tool | hosts | wall s | CPU s | peak RSS MiB | peak KiB per open service | same as nmap -sV | same as nmap -sV -T4 |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|"
    for n in 1 "${#all[@]}"; do
        row "scry-$n" "scry -sV" "$n"
        row "nmap-$n" "nmap -sV" "$n"
        row "nmapT4-$n" "nmap -sV -T4" "$n"
    done
    echo
    # The growth of the peak from 1 host to all: what each further open service costs.
    for tool in scry nmap nmapT4; do
        awk -v tool="$tool" -v one="$(kv "$raw/$tool-1.measure" max_rss_kib)" -v n="${#all[@]}" \
            -v all="$(kv "$raw/$tool-${#all[@]}.measure" max_rss_kib)" -v per_host="$per_host" 'BEGIN {
            if (n > 1) printf "%s: %.1f KiB per further open service ((%d - %d KiB) / %d services)\n", tool,
                (all - one) / ((n - 1) * per_host), all, one, (n - 1) * per_host
        }'
    done
} | tee "$raw/results.md"
echo
cat "$raw/versions.txt"
