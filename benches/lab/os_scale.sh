#!/usr/bin/env bash
# OS detection at network scale: scry -O against nmap -O on 1, 16 and
# $HOSTS lab targets (64 by default), each with its own TCP/IP stack
# (`scry-bench-lab os`: TTL, timestamps, window scaling, SACK, ECN and
# receive buffer varied, 64 distinct stacks, port 22 open and port 1 closed),
# all in one lab and one run. For each run: wall time, CPU time, peak
# resident memory (ru_maxrss); and per host, whether scry's fingerprint and
# top match equal those of scry's run on that host alone, and whether scry's
# top match is nmap's in the same-sized run.
#
#   sudo benches/lab/os_scale.sh                 # HOSTS=64, about 10 minutes
#   sudo HOSTS=128 SIZES="1 16 64 128" benches/lab/os_scale.sh
#
# Both scanners run `-O --osscan-guess -Pn -n -p 22,1` (so both always name
# their best guesses) with nmap's database; scry reads it from nmap's
# install. Fingerprints are compared on every test and attribute but the
# SCAN line and SEQ's SP, ISR and GCD (timing and random ISNs) and a numeric
# TS (Linux starts each connection's timestamps at a random offset), as
# crates/scry/tests/lab_os.rs compares them with nmap's. Every host is also
# scanned alone ("alone" runs) for the reference fingerprints; the 1-host
# row is the first target's alone run.
#
# Measured as throughput.sh measures (`scry-bench-lab measure`). Tools run
# only inside the lab's scanner namespace; every target is checked to lie
# in 198.18.0.0/15. Knobs: HOSTS (64), SIZES ("1 16 $HOSTS"), TOOL_TIMEOUT
# (600 s per run), NO_BUILD=1, OUT_DIR.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=benches/lab/lib.sh
. "$here/lib.sh"

HOSTS=${HOSTS:-64}
SIZES=${SIZES:-"1 16 $HOSTS"}
TOOL_TIMEOUT=${TOOL_TIMEOUT:-600}
DB=/usr/share/nmap/nmap-os-db

[[ $(id -u) -eq 0 ]] || die "needs root (network namespaces, raw sockets)"
for cmd in ip timeout nmap python3; do
    command -v "$cmd" >/dev/null || die "$cmd not found (scripts/install-deps.sh installs it)"
done
[[ -f $DB ]] || die "no $DB"
build_bins

OUT_DIR=${OUT_DIR:-$(mktemp -d /tmp/scry-os-scale.XXXXXX)}
mkdir -p "$OUT_DIR"
raw=$(cd "$OUT_DIR" && pwd)
trap_exit

{
    echo "date: $(date -u +%FT%TZ)  kernel: $(uname -r)  cpus: $(nproc)  load: $(cut -d' ' -f1-3 /proc/loadavg)"
    "$scry" --version | sed -n 1p
    nmap --version | sed -n 1p
} >"$raw/versions.txt"

start_lab_with 120 os --hosts "$HOSTS"
read -r -a all <<<"$TARGET_IPS"
for ip in "${all[@]}"; do
    lab_net "$ip"
done
common=(-O --osscan-guess -Pn -n -p "$OPEN_PORT,1")

# Every host alone: the reference fingerprints, and the one-host times.
for i in "${!all[@]}"; do
    measured "alone-$i" -- "$scry" "${common[@]}" --os-db "$DB" -oX "$raw/alone-$i.xml" "${all[i]}"
done
cp "$raw/alone-0.xml" "$raw/scry-1.xml"
cp "$raw/alone-0.measure" "$raw/scry-1.measure"
for n in $SIZES; do
    ((n <= ${#all[@]})) || die "size $n: only ${#all[@]} targets"
    targets=("${all[@]:0:n}")
    if ((n > 1)); then
        measured "scry-$n" -- "$scry" "${common[@]}" --os-db "$DB" -oX "$raw/scry-$n.xml" "${targets[@]}"
    fi
    measured "nmap-$n" -- nmap "${common[@]}" -oX "$raw/nmap-$n.xml" "${targets[@]}"
done

# compare N: "<fingerprinted> <same fp as alone> <same top as alone> <same top as nmap>"
# for scry-N.xml; the differences go to scry-N.diff.
compare() {
    python3 - "$raw" "$1" <<'EOF'
import re
import sys
import xml.etree.ElementTree as ET

raw, n = sys.argv[1], int(sys.argv[2])

def comparable(text):
    # The XML keeps nmap's form: wrapped into "OS:" lines, or one test a line.
    lines = text.strip().split("\n")
    if all(line.startswith("OS:") for line in lines):
        lines = ["".join(line[3:] for line in lines)]
    tests = []
    for name, body in re.findall(r"([A-Z0-9]+)\(([^)]*)\)", "".join(lines)):
        if name == "SCAN":
            continue
        attrs = []
        for pair in body.split("%") if body else []:
            key, _, value = pair.partition("=")
            if name == "SEQ" and key in ("SP", "ISR", "GCD"):
                continue
            if name == "SEQ" and key == "TS" and value not in ("U", "0"):
                value = "numeric"
            attrs.append((key, value))
        tests.append((name, attrs))
    return tests

def hosts(path):
    out = {}
    for host in ET.parse(path).getroot().iter("host"):
        ip = next(a.get("addr") for a in host.iter("address") if a.get("addrtype") == "ipv4")
        fp = host.find("os/osfingerprint")
        top = host.find("os/osmatch")
        out[ip] = (comparable(fp.get("fingerprint")) if fp is not None else None,
                   top.get("name") if top is not None else None)
    return out

alone = {}
i = 0
while True:
    try:
        alone.update(hosts(f"{raw}/alone-{i}.xml"))
    except FileNotFoundError:
        break
    i += 1
ours, nmap = hosts(f"{raw}/scry-{n}.xml"), hosts(f"{raw}/nmap-{n}.xml")
fingerprinted = same_fp = same_top = as_nmap = 0
with open(f"{raw}/scry-{n}.diff", "w") as diff:
    for ip, (fp, top) in sorted(ours.items()):
        ref_fp, ref_top = alone.get(ip, (None, None))
        fingerprinted += fp is not None
        if fp is not None and fp == ref_fp:
            same_fp += 1
        else:
            print(ip, "fingerprint\n  alone:", ref_fp, "\n  here: ", fp, file=diff)
        if top is not None and top == ref_top:
            same_top += 1
        else:
            print(ip, "top match alone:", ref_top, "here:", top, file=diff)
        if top is not None and top == nmap.get(ip, (None, None))[1]:
            as_nmap += 1
        else:
            print(ip, "top match nmap:", nmap.get(ip, (None, None))[1], "scry:", top, file=diff)
print(fingerprinted, same_fp, same_top, as_nmap)
EOF
}

{
    echo "| hosts | scry wall s | scry CPU s | scry peak RSS MiB | fingerprinted | fingerprint = alone | top match = alone | top match = nmap's | nmap wall s | nmap CPU s | nmap peak RSS MiB |"
    echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    for n in $SIZES; do
        read -r fingerprinted same_fp same_top as_nmap <<<"$(compare "$n")"
        s=$raw/scry-$n.measure m=$raw/nmap-$n.measure
        awk -v n="$n" -v f="$fingerprinted" -v fp="$same_fp" -v top="$same_top" -v nm="$as_nmap" \
            -v sw="$(kv "$s" wall_s)" -v su="$(kv "$s" cpu_user_s)" -v ss="$(kv "$s" cpu_sys_s)" \
            -v sr="$(kv "$s" max_rss_kib)" -v sx="$(kv "$s" exit)" \
            -v nw="$(kv "$m" wall_s)" -v nu="$(kv "$m" cpu_user_s)" -v ns="$(kv "$m" cpu_sys_s)" \
            -v nr="$(kv "$m" max_rss_kib)" -v nx="$(kv "$m" exit)" 'BEGIN {
            printf "| %d | %.2f | %.2f | %.1f | %d/%d | %d/%d | %d/%d | %d/%d | %.2f | %.2f | %.1f |%s%s\n",
                n, sw, su + ss, sr / 1024, f, n, fp, n, top, n, nm, n, nw, nu + ns, nr / 1024,
                (sx == 0 ? "" : " scry exit " sx), (nx == 0 ? "" : " nmap exit " nx)
        }'
    done
    echo
    # One host at a time: how long -O takes for each stack alone.
    for i in "${!all[@]}"; do kv "$raw/alone-$i.measure" wall_s; done | sort -g |
        awk '{ t[NR] = $1; sum += $1 } END {
            printf "scry alone on each of %d hosts: min %.2f s, median %.2f s, max %.2f s, mean %.2f s\n",
                NR, t[1], t[int((NR + 1) / 2)], t[NR], sum / NR
        }'
    for i in "${!all[@]}"; do kv "$raw/alone-$i.measure" max_rss_kib; done | sort -g |
        awk '{ r[NR] = $1 } END { printf "scry alone peak RSS: min %.1f MiB, max %.1f MiB\n", r[1] / 1024, r[NR] / 1024 }'
} | tee "$raw/results.md"
echo
cat "$raw/versions.txt"
