#!/usr/bin/env bash
# Installs the fuzzing tool scripts/fuzz.sh drives: cargo-fuzz (libFuzzer),
# at a pinned version, with its own Cargo.lock. Needs no root; libFuzzer is
# built from C++ by libfuzzer-sys with the system's g++ (install-deps.sh).
set -euo pipefail
version=0.13.2
if [ "$(cargo fuzz --version 2>/dev/null)" != "cargo-fuzz $version" ]; then
  cargo install cargo-fuzz --version "$version" --locked
fi
