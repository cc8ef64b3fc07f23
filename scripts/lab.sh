#!/usr/bin/env bash
# Thin wrapper around the `scry-lab` binary (tests/lab) for trying scry or
# nmap by hand against real Linux stacks in network namespaces.
#
#   scripts/lab.sh up      build the lab in the background and print it
#   scripts/lab.sh status  list lab namespaces, addresses and listening ports
#   scripts/lab.sh down    stop the background lab and delete every lab namespace
#
# Needs root. Every lab address is in 198.18.0.0/15 or 2001:2::/48 and no
# namespace has a default route.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
state_dir=/run
[[ -w $state_dir ]] || state_dir=/tmp
pidfile=$state_dir/scry-lab.pid
logfile=$state_dir/scry-lab.log
bin=${CARGO_TARGET_DIR:-$root/target}/debug/scry-lab

die() { echo "lab.sh: $*" >&2; exit 1; }

build() {
    (cd "$root" && cargo build -q -p scry-lab --bin scry-lab)
}

running_pid() {
    local pid
    [[ -f $pidfile ]] || return 1
    pid=$(<"$pidfile")
    [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

up() {
    [[ $(id -u) -eq 0 ]] || die "needs root (CAP_NET_ADMIN)"
    local pid
    if pid=$(running_pid); then
        echo "lab already running (pid $pid):"
        cat "$logfile"
        return 0
    fi
    build
    nohup "$bin" up >"$logfile" 2>&1 </dev/null &
    pid=$!
    echo "$pid" >"$pidfile"
    for _ in $(seq 100); do
        if grep -q '^scry-lab: ready' "$logfile" 2>/dev/null; then
            cat "$logfile"
            echo "log: $logfile   stop: scripts/lab.sh down"
            return 0
        fi
        kill -0 "$pid" 2>/dev/null || { cat "$logfile" >&2; rm -f "$pidfile"; die "scry-lab up exited"; }
        sleep 0.1
    done
    cat "$logfile" >&2
    die "lab not ready after 10 s (pid $pid still running; scripts/lab.sh down stops it)"
}

down() {
    local pid
    if pid=$(running_pid); then
        kill -TERM "$pid"
        for _ in $(seq 100); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -0 "$pid" 2>/dev/null && die "scry-lab (pid $pid) did not stop"
    fi
    rm -f "$pidfile"
    [[ -x $bin ]] || build
    "$bin" down
}

status() {
    local pid
    if pid=$(running_pid); then
        echo "background lab: pid $pid (log $logfile)"
    else
        echo "background lab: not running"
    fi
    [[ -x $bin ]] || build
    "$bin" status
}

case ${1:-} in
    up) up ;;
    down) down ;;
    status) status ;;
    *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
