#!/usr/bin/env bash
# Installs the Debian packages scry builds and tests with:
#   libpcap-dev          libpcap headers for the pcap crate
#   iproute2 nftables    the namespace lab (ip netns, veth, bridge, nft rules)
#   tcpdump              fixtures and pcap-file checks
#   nmap                 the oracle (OS fingerprints) and nmap-os-db/nmap-services
#   masscan zmap netsniff-ng  benchmark yardsticks (trafgen)
#   iputils-ping procps  lab readiness checks and sysctl
#   ethtool              NIC offload settings (GRO/GSO/TSO) in lab tests and benchmarks
#   libxml2-utils xsltproc ndiff python3-libnmap
#                        the tools that read nmap XML, run on scry's -oX in lab tests
#   libcap2-bin util-linux  setcap and setpriv: scans as an unprivileged user with file capabilities
#   dnsmasq-base chrony snmpd
#                        real UDP services (DNS, NTP, SNMP) for the -sU lab tests
#   openssh-server nginx-light vsftpd postfix dovecot-imapd dovecot-pop3d redis-server
#   memcached postgresql inetutils-inetd inetutils-telnetd openssl
#                        real TCP services for the version-detection lab (tests/lab/src/daemon.rs);
#                        installed without starting them on this machine (policy-rc.d);
#                        postgresql's server binaries also run scry-store's PostgreSQL
#                        history tests, on a temporary cluster of their own
#   dpkg-dev             dpkg-shlibdeps, which works out the Debian package's Depends
#                        (scripts/package.sh)
#   libpcre2-dev         PCRE2 for nmap-service-probes regexes (scry-service, via pcre2-sys)
#   e2fsprogs            chattr: a read-only history database even for root (scry-store tests)
#   libssl-dev           OpenSSL for -sV's TLS probes (the openssl crate)
#   g++                  libFuzzer's C++ sources, built by libfuzzer-sys for scripts/fuzz.sh
#   slurm-wlm munge      a single-node Slurm for scripts/slurm-e2e.sh (deploy/slurm on a real
#                        scheduler); its daemons, like the services above, are not started
# and then, with cargo, cargo-fuzz (scripts/install-fuzz.sh).
set -euo pipefail
if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: needs root (apt-get install)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# The lab runs each daemon in its own namespace; none may start on the machine itself.
policy=/usr/sbin/policy-rc.d
own_policy=false
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && own_policy=true
fi
apt-get install -y -qq --no-install-recommends \
  libpcap-dev iproute2 nftables tcpdump nmap masscan zmap netsniff-ng iputils-ping procps ethtool pkg-config \
  libxml2-utils xsltproc ndiff python3-libnmap libcap2-bin util-linux \
  dnsmasq-base chrony snmpd dpkg-dev libpcre2-dev e2fsprogs g++ libssl-dev \
  openssh-server nginx-light vsftpd postfix dovecot-imapd dovecot-pop3d redis-server \
  memcached postgresql inetutils-inetd inetutils-telnetd openssl slurm-wlm munge >/dev/null
if $own_policy; then rm -f "$policy"; fi
if ! command -v cargo >/dev/null; then
  echo "install-deps: cargo not found; install a Rust toolchain (rustup) first" >&2
  exit 1
fi
bash "$(dirname "$0")/install-fuzz.sh"
