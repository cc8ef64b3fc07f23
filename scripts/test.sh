#!/usr/bin/env bash
# Runs every test: unit, property and namespace-lab tests. Lab tests need
# root; under CI=true a lab test without privileges fails instead of skipping.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --workspace --all-targets --locked
