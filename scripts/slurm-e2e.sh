#!/usr/bin/env bash
# End to end on a real Slurm (issue 17, docs/scale-out.md): a single-node
# cluster on this machine runs deploy/slurm/ against the namespace lab.
#
#  1. munged, slurmctld and slurmd in a network namespace of their own that
#     has only loopback (so the daemons listen nowhere else), a temporary
#     PostgreSQL on a Unix socket only, and the benchmark lab
#     (scry-bench-lab up: two targets listening on the same ports).
#  2. One unsharded scan of the lab into PostgreSQL; then deploy/slurm/submit.sh
#     submits a 4-task array (each task `--shard auto` in the lab's scanner
#     namespace) and its diff job. The run must equal the unsharded scan
#     (the diff job finds no change), the shards' port rows must match its
#     rows with no (address, port) recorded twice, and the shards must
#     have sent exactly its probes between them.
#  3. A port of one target is made to drop (nft); a second array and its
#     diff job against the first run: the diff must name exactly that port.
#  4. One task of the second array is requeued (a failed task rerun with
#     its index): its shard's rows are replaced, not added.
#
# Needs root, slurm-wlm, munge and postgresql (scripts/install-deps.sh).
# Everything it starts is stopped on exit.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
SEED=20261204
PORTS=1-3000
WAIT_LIMIT=300

die() {
    echo "slurm-e2e: FAIL: $*" >&2
    exit 1
}
say() { echo "slurm-e2e: $(date +%T) $*" >&2; }

[[ $(id -u) -eq 0 ]] || die "needs root (namespaces, daemons)"
for tool in munged mungekey slurmctld slurmd sbatch squeue scontrol nsenter nft psql python3; do
    command -v "$tool" >/dev/null || die "$tool not found; scripts/install-deps.sh installs it"
done
pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[[ -x $pg_bin/initdb && -x $pg_bin/pg_ctl ]] || die "PostgreSQL server binaries not found under /usr/lib/postgresql"

bin=${CARGO_TARGET_DIR:-$root/target}/debug
(cd "$root" && cargo build -q --locked -p scry -p scry-lab --bins)
scry=$bin/scry
benchlab=$bin/scry-bench-lab

work=$(mktemp -d /tmp/scry-slurm-e2e.XXXXXX)
chmod 755 "$work"
slurm_ns=slurm-e2e-$$
lab_pid=
pg_started=false
export SLURM_CONF=$work/slurm.conf

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    set +e
    if [[ $rc -ne 0 ]]; then
        for log in "$work"/log/*.log "$work"/out/*.out; do
            [[ -f $log ]] && { echo "== $log" >&2; tail -n 20 "$log" >&2; }
        done
    fi
    for pid_file in "$work/slurmd.pid" "$work/slurmctld.pid" "$work/munge/munged.pid"; do
        [[ -f $pid_file ]] && kill "$(cat "$pid_file")" 2>/dev/null
    done
    if $pg_started; then
        setpriv --reuid=postgres --regid=postgres --init-groups \
            "$pg_bin/pg_ctl" -D "$work/pg/data" -m immediate -w stop >/dev/null 2>&1
    fi
    if [[ -n $lab_pid ]]; then
        kill -TERM "$lab_pid" 2>/dev/null
        wait "$lab_pid" 2>/dev/null
    fi
    sleep 1
    ip netns del "$slurm_ns" 2>/dev/null
    rm -rf "$work"
    [[ $rc -eq 0 ]] && say "PASS" || say "failed with status $rc"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# In the daemons' namespace (nsenter, not `ip netns exec`: slurmd needs the
# machine's /sys/fs/cgroup, which ip netns exec hides behind a new /sys).
sl() { nsenter --net="/run/netns/$slurm_ns" "$@"; }

start_slurm() {
    ip netns add "$slurm_ns"
    sl ip link set lo up
    # getaddrinfo (AI_ADDRCONFIG) resolves no IPv4 address where 127.0.0.1 is
    # the only one; a second loopback address keeps it all on loopback.
    sl ip addr add 127.0.0.2/32 dev lo
    mkdir -p "$work/munge" "$work/log" "$work/ctld" "$work/spool" "$work/out"
    chmod 700 "$work/munge"
    mungekey -c -f -k "$work/munge/munge.key"
    sl munged -f --socket="$work/munge/munge.socket" --key-file="$work/munge/munge.key" \
        --log-file="$work/log/munged.log" --pid-file="$work/munge/munged.pid" \
        --seed-file="$work/munge/munged.seed"
    local host
    host=$(hostname -s)
    cat >"$SLURM_CONF" <<EOF
ClusterName=scrye2e
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=6817
SlurmdPort=6818
AuthType=auth/munge
AuthInfo=socket=$work/munge/munge.socket
CredType=cred/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$work/ctld
SlurmdSpoolDir=$work/spool
SlurmctldPidFile=$work/slurmctld.pid
SlurmdPidFile=$work/slurmd.pid
SlurmctldLogFile=$work/log/slurmctld.log
SlurmdLogFile=$work/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
MpiDefault=none
ReturnToService=2
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MinJobAge=3600
NodeName=$host NodeAddr=127.0.0.1 CPUs=$(nproc) State=UNKNOWN
PartitionName=e2e Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
    sl slurmctld -i
    sl slurmd
    for _ in $(seq 100); do
        sl sinfo -h -o %T 2>/dev/null | grep -qx idle && break
        sleep 0.2
    done
    sl sinfo -h -o %T | grep -qx idle || die "the Slurm node did not become idle: $(sl sinfo 2>&1)"
    local listening
    listening=$(sl ss -Hltn | awk '{print $4}' | tr '\n' ' ')
    say "slurm up in namespace $slurm_ns, which has only loopback (listening: $listening)"
}

start_postgres() {
    mkdir -p "$work/pg"
    chown postgres:postgres "$work/pg"
    local as_pg=(setpriv --reuid=postgres --regid=postgres --init-groups)
    "${as_pg[@]}" "$pg_bin/initdb" -D "$work/pg/data" -U postgres --auth=trust --encoding=UTF8 --locale=C \
        --no-sync >/dev/null
    "${as_pg[@]}" "$pg_bin/pg_ctl" -D "$work/pg/data" -l "$work/pg/server.log" -w -t 60 \
        -o "-c listen_addresses='' -p 5432 -k $work/pg -c fsync=off -c shared_buffers=16MB" start >/dev/null
    pg_started=true
    psql -q -h "$work/pg" -U postgres -d postgres -c "CREATE DATABASE scry" >/dev/null
    SCRY_DB="postgresql://postgres@${work//\//%2F}%2Fpg:5432/scry"
    export SCRY_DB
}

# sql QUERY: one value per line, fields separated by |.
sql() { psql -X -q -A -t -h "$work/pg" -U postgres -d scry -c "$1"; }

start_lab() {
    "$benchlab" up --open-ports 3000 --loss 0 --seed 3 --env "$work/lab.env" \
        --ports-file "$work/open-ports.txt" >"$work/log/lab.log" 2>&1 &
    lab_pid=$!
    for _ in $(seq 600); do
        grep -q '^scry-bench-lab: ready' "$work/log/lab.log" && break
        kill -0 "$lab_pid" 2>/dev/null || die "lab did not come up: $(cat "$work/log/lab.log")"
        sleep 0.1
    done
    grep -q '^scry-bench-lab: ready' "$work/log/lab.log" || die "lab not ready after 60 s"
    # shellcheck source=/dev/null
    . "$work/lab.env"
    [[ $SCANNER_NS =~ ^scry[0-9]+x[0-9]+scan$ ]] || die "unexpected scanner namespace $SCANNER_NS"
    local ip
    for ip in "$OPEN_IP" "$LOSSY_IP"; do
        [[ $ip =~ ^198\.1[89]\. ]] || die "target $ip is outside the lab range 198.18.0.0/15"
    done
}

# wait_jobs ID...: until Slurm runs none of the jobs (or their array tasks).
wait_jobs() {
    local ids
    ids=$(IFS=,; echo "$*")
    for _ in $(seq $((WAIT_LIMIT * 2))); do
        [[ -z $(sl squeue -h -j "$ids" 2>/dev/null) ]] && return 0
        sleep 0.5
    done
    die "jobs $ids still queued or running after ${WAIT_LIMIT}s: $(sl squeue -j "$ids")"
}

# job_field JOB FIELD: FIELD=value of each of JOB's tasks, one per line.
job_field() { sl scontrol -o show job "$1" | grep -o "\b$2=[^ ]*" | cut -d= -f2; }

# submit [PREVIOUS_RUN]: deploy/slurm/submit.sh with 4 shards; sets run and diff_job.
submit() {
    local out
    out=$(cd "$work/out" && sl bash "$root/deploy/slurm/submit.sh" 4 "$@")
    run=$(awk '$1 == "run" {print $2}' <<<"$out")
    diff_job=$(awk '$1 == "diff" {print $2}' <<<"$out")
    [[ $run =~ ^slurm-[0-9]+$ && $diff_job =~ ^[0-9]+$ ]] || die "submit.sh printed: $out"
    wait_jobs "${run#slurm-}" "$diff_job"
    say "run $run and its diff job $diff_job have finished"
    local states
    states=$(job_field "${run#slurm-}" JobState | sort | uniq -c | xargs)
    [[ $states == "4 COMPLETED" ]] || die "run $run: task states $states"
}

# diff_changes FILE: the change records of a `scry diff --json` output, one per line.
diff_changes() {
    python3 -c '
import json, sys
for line in open(sys.argv[1]):
    line = line.strip()
    if not line.startswith("{"):
        continue
    r = json.loads(line)
    if r["type"] == "diff":
        continue
    b, a = r.get("before") or {}, r.get("after") or {}
    print(r["type"], r.get("ip"), r.get("proto"), r.get("port"), b.get("state"), a.get("state"))
' "$1"
}

# check_run RUN: the run's shards recorded each pair at most once, and
# together what the unsharded scan recorded and sent.
check_run() {
    local run=$1
    local scans
    scans=$(sql "SELECT count(*) || ' ' || count(DISTINCT shard_index) || ' ' || min(shard_count) FROM scans WHERE run_id = '$run' AND status = 'complete'")
    [[ $scans == "4 4 4" ]] || die "$run: expected 4 complete shards of 4, got $scans"
    local twice
    twice=$(sql "SELECT p.ip || ':' || p.port FROM ports p JOIN scans s ON s.id = p.scan_id WHERE s.run_id = '$run' GROUP BY p.ip, p.proto, p.port HAVING count(*) > 1")
    [[ -z $twice ]] || die "$run: pairs recorded by two shards: $twice"
    local rows="SELECT p.ip || ' ' || p.proto || ' ' || p.port || ' ' || p.state FROM ports p JOIN scans s ON s.id = p.scan_id"
    sql "$rows WHERE s.id = $unsharded ORDER BY 1" >"$work/unsharded.rows"
    sql "$rows WHERE s.run_id = '$run' ORDER BY 1" >"$work/$run.rows"
    cmp -s "$work/unsharded.rows" "$work/$run.rows" || die "$run: port rows differ from the unsharded scan: $(diff "$work/unsharded.rows" "$work/$run.rows" | head)"
    local sent
    sent=$(sql "SELECT sum(c.value) FROM scan_counters c JOIN scans s ON s.id = c.scan_id WHERE s.run_id = '$run' AND c.name = 'sent'")
    [[ $sent == "$unsharded_sent" ]] || die "$run: the shards sent $sent probes, the unsharded scan $unsharded_sent"
}

say "work directory $work"
start_slurm
start_postgres
start_lab

targets="$OPEN_IP $LOSSY_IP"
export SCRY=$scry SCRY_SEED=$SEED SCRY_PORTS=$PORTS SCRY_TARGETS=$targets SCRY_NETNS=$SCANNER_NS
export SCRY_ARGS="--retries 0 --wait 1" SCRY_DIFF_ARGS=--json
# One node with every CPU: the tasks run one after another.
export SBATCH_ARGS="--cpus-per-task=1"

say "unsharded scan of $targets, ports $PORTS"
# shellcheck disable=SC2086 # targets and SCRY_ARGS are word lists
ip netns exec "$SCANNER_NS" "$scry" -p "$PORTS" --seed "$SEED" --db "$SCRY_DB" $SCRY_ARGS -oJ - $targets \
    >"$work/out/unsharded.json"
unsharded=$(sql "SELECT id FROM scans WHERE run_id IS NULL AND status = 'complete'")
[[ $unsharded =~ ^[0-9]+$ ]] || die "no complete unsharded scan in the history: $unsharded"
unsharded_sent=$(sql "SELECT value FROM scan_counters WHERE scan_id = $unsharded AND name = 'sent'")
[[ $unsharded_sent == $((2 * 3000)) ]] || die "the unsharded scan sent $unsharded_sent probes, not 6000"
open=$(sql "SELECT count(*) FROM ports WHERE scan_id = $unsharded AND state = 'open'")
expected_open=$(awk '$1 <= 3000' "$work/open-ports.txt" | wc -l)
[[ $open == $((2 * expected_open)) ]] || die "the unsharded scan found $open open ports, the lab has $((2 * expected_open))"
say "unsharded scan $unsharded: $unsharded_sent probes, $open open ports"

# Run 1: equals the unsharded scan. Its diff job compares it with the scan
# before it of the same scope, which is the unsharded one.
submit
run1=$run
check_run "$run1"
[[ $(job_field "$diff_job" ExitCode) == 0:0 ]] || die "diff job of $run1: $(job_field "$diff_job" ExitCode)"
[[ -z $(diff_changes "$work/out/scry-diff-$diff_job.out") ]] || die "$run1 differs from the unsharded scan"
"$scry" history --db "$SCRY_DB" | grep -q "^$run1 (4 shards) .* complete " \
    || die "scry history does not show $run1 as one complete run: $("$scry" history --db "$SCRY_DB")"
say "$run1 equals the unsharded scan; no pair recorded twice"

# Run 2: one open port of the first target now drops its probes.
port=$(awk '$1 <= 3000' "$work/open-ports.txt" | head -n 1)
ip netns exec "$OPEN_NS" nft -f - <<EOF
table inet slurm_e2e {
    chain input {
        type filter hook input priority -10; policy accept;
        tcp dport $port drop
    }
}
EOF
submit "$run1"
run2=$run
[[ $(job_field "$diff_job" ExitCode) == 1:0 ]] || die "diff job of $run2: exit $(job_field "$diff_job" ExitCode), not 1"
changes=$(diff_changes "$work/out/scry-diff-$diff_job.out")
[[ $changes == "port-state $OPEN_IP tcp $port open filtered" ]] || die "diff of $run1 and $run2: $changes"
say "the diff job of $run2 names exactly $OPEN_IP:$port open -> filtered"

# A task rerun with its index (scontrol requeue) replaces its shard's rows.
before=$(sql "SELECT id FROM scans WHERE run_id = '$run2' AND shard_index = 3")
rows_before=$(sql "SELECT count(*) FROM ports p JOIN scans s ON s.id = p.scan_id WHERE s.run_id = '$run2'")
sl scontrol requeue "${run2#slurm-}_2"
# Slurm holds a requeued job for two minutes (BeginTime); start it now.
sl scontrol update JobId="${run2#slurm-}_2" StartTime=now
for _ in $(seq $((WAIT_LIMIT * 2))); do
    after=$(sql "SELECT id || ' ' || status FROM scans WHERE run_id = '$run2' AND shard_index = 3")
    [[ $after != "$before complete" && $after == *" complete" ]] && break
    sleep 0.5
done
wait_jobs "${run2#slurm-}"
after=$(sql "SELECT id FROM scans WHERE run_id = '$run2' AND shard_index = 3")
[[ $after =~ ^[0-9]+$ && $after != "$before" ]] || die "the requeued task did not replace scan $before (now: $after)"
rows_after=$(sql "SELECT count(*) FROM ports p JOIN scans s ON s.id = p.scan_id WHERE s.run_id = '$run2'")
[[ $rows_after == "$rows_before" ]] || die "$run2 had $rows_before port rows, after the rerun $rows_after"
set +e
"$scry" diff --db "$SCRY_DB" --json "$run1" "$run2" >"$work/out/rerun-diff.json"
status=$?
set -e
[[ $status -eq 1 ]] || die "scry diff $run1 $run2 after the rerun exited $status"
changes=$(diff_changes "$work/out/rerun-diff.json")
[[ $changes == "port-state $OPEN_IP tcp $port open filtered" ]] || die "after the rerun: $changes"
say "the rerun of task 2 replaced scan $before with $after; $run2 still has $rows_after port rows"
