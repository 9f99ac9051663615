#!/usr/bin/env bash
# The whole test suite: setup, formatting, lints, then every unit, integration and end-to-end test.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
. scripts/env.sh
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --all-targets --locked
