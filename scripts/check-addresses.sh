#!/usr/bin/env bash
# Flags IP address literals in the repository's code, tests, scripts, benches
# and fuzz inputs that lie outside the ranges scry may send to or name:
#
#   IPv4  198.18.0.0/15 (the lab, RFC 2544)  127.0.0.0/8 (loopback)
#         0.0.0.0/8 (unspecified, "this network")  255.0.0.0/8 (netmasks,
#         the limited broadcast)
#   IPv6  2001:2::/48 (the lab, RFC 5180)  ::1  ::  fe80::/10 (link-local)
#         ff02::/16 (link-scope multicast: neighbour discovery)
#         ::ffff:0:0/96 mapped addresses of an allowed IPv4 address
#
# Literals are dotted quads, IPv6 text (validated by Python's ipaddress, so
# MAC addresses, times and Rust paths do not count) and Ipv4Addr::new /
# Ipv6Addr::new calls with literal arguments. Anything else that is not a
# probe destination (an error message's example, a parser test's input) is
# listed with its reason in scripts/check-addresses.allow.
#
# Prints file:line: literal for each one and exits 1 if there are any.
# Needs python3 (installed with python3-libnmap by scripts/install-deps.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

check=$(cat <<'PY'
import ipaddress
import re
import sys

V4_OK = [ipaddress.ip_network(n) for n in ("198.18.0.0/15", "127.0.0.0/8", "0.0.0.0/8", "255.0.0.0/8")]
V6_OK = [ipaddress.ip_network(n) for n in ("2001:2::/48", "::1/128", "::/128", "fe80::/10", "ff02::/16")]
# Text files worth reading; fuzz seeds and pcap files are binary.
TEXT = re.compile(r"\.(rs|sh|py|toml|txt|dict|hex|xml|json|ya?ml|service|conf|cfg)$|(^|/)[^./]+$")

DOTTED = re.compile(r"(?<![\w.:])(\d{1,3}(?:\.\d{1,3}){3})(?![\w.]*\d)(?:/\d{1,2})?")
V6TEXT = re.compile(r"(?<![\w:.%])((?:[0-9A-Fa-f]{0,4}:){2,7}(?:\d{1,3}(?:\.\d{1,3}){3}|[0-9A-Fa-f]{1,4})?)(?![\w:]|\.\d)")
NUM = r"\s*(0x[0-9A-Fa-f]+|\d+)(?:_?u\d+)?\s*"
SECTION = re.compile(r"RFC|§|section", re.IGNORECASE)
V4NEW = re.compile(r"Ipv4Addr::new\(" + ",".join([NUM] * 4) + r"\)")
V6NEW = re.compile(r"Ipv6Addr::new\(" + ",".join([NUM] * 8) + r"\)")


def allowed(addr):
    if addr.version == 4:
        return any(addr in n for n in V4_OK)
    if addr.ipv4_mapped is not None:
        return allowed(addr.ipv4_mapped)
    return any(addr in n for n in V6_OK)


def literals(line):
    """(key, shown, address) for each literal: the key is what the allow
    file names (the text, or the address a constructor call makes)."""
    for m in DOTTED.finditer(line):
        if SECTION.search(line[max(0, m.start() - 16) : m.start()]):
            continue  # RFC 9293 section 3.10.7.1, not an address
        try:
            octets = [int(x) for x in m.group(1).split(".")]
            if all(o <= 255 for o in octets):
                yield m.group(1), m.group(1), ipaddress.IPv4Address(m.group(1))
        except ValueError:
            pass
    for m in V6TEXT.finditer(line):
        text = m.group(1)
        if "::" not in text and text.count(":") != 7:
            continue  # MAC addresses, times, 6-group strings
        if not any(c.isdigit() for c in text):
            continue  # a Rust path such as db::Parser
        try:
            yield text, text, ipaddress.IPv6Address(text)
        except ValueError:
            pass
    for m in V4NEW.finditer(line):
        octets = [int(x, 0) for x in m.groups()]
        if all(o <= 255 for o in octets):
            addr = ipaddress.IPv4Address(bytes(octets))
            yield str(addr), f"{m.group(0)} ({addr})", addr
    for m in V6NEW.finditer(line):
        groups = [int(x, 0) for x in m.groups()]
        if all(g <= 0xFFFF for g in groups):
            addr = ipaddress.IPv6Address(b"".join(g.to_bytes(2, "big") for g in groups))
            yield str(addr), f"{m.group(0)} ({addr})", addr


def load_allow(path):
    entries = set()
    with open(path, encoding="utf-8") as f:
        for n, raw in enumerate(f, 1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            parts = line.split(None, 2)
            if len(parts) < 3:
                sys.exit(f"{path}:{n}: expected `FILE LITERAL REASON`, got {line!r}")
            entries.add((parts[0], parts[1]))
    return entries


allow = load_allow(sys.argv[1])
used = set()
bad = 0
for name in sys.stdin.buffer.read().split(b"\0"):
    path = name.decode()
    if not path or not TEXT.search(path) or path == "scripts/check-addresses.sh":
        continue
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.readlines()
    except (UnicodeDecodeError, FileNotFoundError, IsADirectoryError):
        continue
    for n, line in enumerate(lines, 1):
        for key, shown, addr in literals(line):
            if allowed(addr):
                continue
            if (path, key) in allow:
                used.add((path, key))
                continue
            print(f"{path}:{n}: {shown} is outside the allowed ranges")
            bad += 1
for path, text in sorted(allow - used):
    print(f"scripts/check-addresses.allow: {path} {text} no longer occurs; remove the entry")
    bad += 1
if bad:
    print(f"{bad} problem(s): address literals outside the allowed ranges, or stale allow entries")
    sys.exit(1)
PY
)

git ls-files -z -- crates tests scripts benches fuzz deploy .ci Cargo.toml \
  | python3 -c "$check" scripts/check-addresses.allow
