#!/usr/bin/env bash
# Peak memory of scry as a scan grows from 256 to 16.7 million (address,
# port) pairs, generating every probe without sending it (--offline).
# (masscan 1.3.2's --offline stops with "bad packet template" in such a
# namespace, so it is not in the table.)
#
#   sudo benches/memory.sh
#
# Both tools run in a throwaway network namespace whose only link is a veth
# pair with both ends inside it, one holding 198.18.255.254/15, so nothing
# could leave it even if a tool sent. Peak memory is the child's ru_maxrss, read the same way for both.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
[[ $(id -u) -eq 0 ]] || { echo "memory.sh: needs root (network namespace)" >&2; exit 1; }
(cd "$root" && cargo build -q --release -p scry)
scry=${CARGO_TARGET_DIR:-$root/target}/release/scry

ns=scrymem$$
ip netns add "$ns"
trap 'ip netns del "$ns"' EXIT
ip -n "$ns" link set lo up
ip -n "$ns" link add scan0 address 02:00:c6:12:ff:fe type veth peer name sink0
ip -n "$ns" addr add 198.18.255.254/15 dev scan0
ip -n "$ns" link set scan0 up
ip -n "$ns" link set sink0 up

# peak CMD...: runs CMD in the namespace, prints "<peak KiB> <wall s>".
peak() {
    ip netns exec "$ns" python3 -c '
import resource, subprocess, sys, time
t = time.monotonic()
subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, "%.2f" % (time.monotonic() - t))' "$@"
}

echo "| pairs | targets x ports | peak KiB | wall s |"
echo "|---:|---|---:|---:|"
for size in "198.18.0.0/24 1-1" "198.18.0.0/16 1-1" "198.18.0.0/16 1-16" "198.18.0.0/16 1-256"; do
    read -r net ports <<<"$size"
    hosts=$((1 << (32 - ${net#*/})))
    count=$((hosts * (${ports#*-} - ${ports%-*} + 1)))
    read -r s_kib s_secs < <(peak "$scry" --offline -n --retries 0 --wait 0 --rate 1000000000 \
        -e scan0 -S 198.18.255.254 --router-mac 02:00:c6:12:00:01 -p "$ports" -oJ - "$net")
    echo "| $count | $net x $ports | $s_kib | $s_secs |"
done
echo
echo "date: $(date -u +%FT%TZ)  kernel: $(uname -r)  cpus: $(nproc)"
"$scry" --version
